"""The processes and sockets of a run: the cluster a multi-worker run
joins, who writes what, local workers, and the server's listening socket.

`tf_config.py` reads and checks `TF_CONFIG`; `workers.py` decides which
worker writes the run folder; `launcher.py` starts `fit --local-workers N`;
`listening.py` binds the server's ports before anything heavy loads.

What it may import: `textlstm.errors` and `textlstm.runs`. No TensorFlow
(a test checks): `textlstm info`, the config checks and `textlstm serve`'s
port check use it freely.
"""

from textlstm.cluster.tf_config import (
    Cluster,
    ClusterError,
    cluster_report,
    free_ports,
    local_tf_configs,
    parse_cluster,
    read_cluster,
    rendezvous,
    unreachable_peers,
)

__all__ = [
    "Cluster",
    "ClusterError",
    "cluster_report",
    "free_ports",
    "local_tf_configs",
    "parse_cluster",
    "read_cluster",
    "rendezvous",
    "unreachable_peers",
]
