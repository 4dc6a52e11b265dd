"""The pure core: specs, YAML with positions, policy, lineage records, diffs.

Nothing here touches the network, a cluster, a container engine, a GPU or a drift library.
"""
