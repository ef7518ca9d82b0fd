"""A trace-driven look at keep-alive policies, the way serverless platforms study them.

Notebook 06 cannot wait a day for real functions to go cold, so it simulates one: a synthetic
day of invocations in the layout of the Azure Functions 2019 trace (:mod:`.traces`), then the
minute-by-minute life of each application's execution environment under a keep-alive policy
(:mod:`.keepalive`): a fixed window, or the hybrid histogram policy of Shahrad et al.,
"Serverless in the Wild" (USENIX ATC 2020, arXiv 2003.03423).

>>> from workshop.simulation import keepalive, traces          # doctest: +SKIP
>>> day = traces.generate(1000, seed=6)                         # doctest: +SKIP
>>> keepalive.compare(day, traces.app_memory(day, seed=6))      # doctest: +SKIP
"""

from workshop.simulation import keepalive, traces

__all__ = ["keepalive", "traces"]
