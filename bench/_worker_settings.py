"""The benchmark workers' settings: the sandbox's, with points emails off.

``bench/workers.py`` measures the maturing job and the order task; the
"points available" email each matured chunk queues is other work.
"""

from sandbox.settings import *  # noqa: F403

OSCAR_LOYALTY_EMAILS = {"points_available": {"send": False}}
