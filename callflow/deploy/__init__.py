"""Put a site into a running Asterisk: write a new version, switch, reload, verify, roll back.

Every deploy of a site is a numbered, immutable version under the Asterisk config dir;
a ``current`` symlink says which one runs, and the main ``extensions.conf``,
``queues.conf`` and ``voicemail.conf`` each ``#include`` the site through it::

    <etc_dir>/callflow/star_motors/
        versions/0001-3f2a9c0d1e4b/{extensions,queues,voicemail}.conf, manifest.json
        versions/0002-9b1c44e07a21/...
        current -> versions/0002-9b1c44e07a21
        journal.json                  the verified version; a switch still pending
        failed/<version>/...          the last version Asterisk rejected, for reading

Deploy is a journal: a switch of ``current`` is pending until Asterisk is read back
running it, and every run first undoes what an interrupted run left pending. Each
version's extensions.conf ends with a marker context naming the version and its content
hash; a deploy counts as done only once Asterisk reports that marker, every context with
exactly its number of priorities, every queue and mailbox, the contexts and queues the
site dropped gone, and (given a log reader) no warning or error from the reload. If not,
``current`` goes back to the version that ran before, Asterisk reloads that, and
:class:`~callflow.errors.DeployError` says what failed::

    result = deploy(site, Path("/etc/asterisk"), asterisk=CliControl())
    print(result.version, result.reload_seconds, result.verify_seconds)
    rollback("star_motors", Path("/etc/asterisk"), asterisk=CliControl())
"""

from callflow.deploy.control import (
    RELOAD_COMMANDS,
    AsteriskControl,
    CliControl,
    LogReader,
    ProblemLog,
    reload_lines,
)
from callflow.deploy.journal import DeployRefused, DeployResult, deploy, diff, rollback
from callflow.deploy.prompts import PromptsMissing, missing_prompts, target_sounds
from callflow.deploy.verify import check_etc_dir, foreign_contexts, verify
from callflow.deploy.versions import (
    Journal,
    Manifest,
    Pending,
    SiteTree,
    content_hash,
    ensure_includes,
    include_line,
    marker_context,
)

__all__ = [
    "RELOAD_COMMANDS",
    "AsteriskControl",
    "CliControl",
    "DeployRefused",
    "DeployResult",
    "Journal",
    "LogReader",
    "Manifest",
    "Pending",
    "ProblemLog",
    "PromptsMissing",
    "SiteTree",
    "check_etc_dir",
    "content_hash",
    "deploy",
    "diff",
    "ensure_includes",
    "foreign_contexts",
    "include_line",
    "marker_context",
    "missing_prompts",
    "reload_lines",
    "rollback",
    "target_sounds",
    "verify",
]
