"""The outbound dialer: originates a campaign's attempts over ARI and records what happened.

Built on :mod:`callflow.outbound` (lists, compliance, attempts in the store) and the ARI
adapter in :mod:`callflow.runtime`.
"""
