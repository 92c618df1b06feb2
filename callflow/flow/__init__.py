"""The sans-I/O flow machine: what each node does and where a call goes next.

- :mod:`callflow.flow.effects`: what a node asks its driver to do;
- :mod:`callflow.flow.machine`: :class:`FlowMachine`, every node's meaning, once;
- :mod:`callflow.flow.compiled`: :class:`CompiledModel`, what the compiled queue, dial
  and voicemail contexts do (the simulator's stand-in for Asterisk).

The simulator (:mod:`callflow.simulate`) and the live runtime
(:mod:`callflow.runtime.interpreter`) only drive them::

    steps = FlowMachine(site).visit(node)
    effect = next(steps)   # Enter(node), then Play(...), WaitDigit(...), ...
"""

from callflow.flow.compiled import CompiledModel, queue_priority
from callflow.flow.machine import FlowMachine

__all__ = ["CompiledModel", "FlowMachine", "queue_priority"]
