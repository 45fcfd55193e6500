"""One load run spread over many processes and machines on Dask distributed.

Each shard is an ordinary load controller (the `load` layer, unaware that it is one of many)
held by a Dask actor on one worker. The coordinator (`ClusterController`) places the shards,
starts them at one go time, fans every command out to all of them, and merges their interval
histograms exactly into one snapshot stream, which the dashboards, status lines and exports
read as if the run were one process. Dask is imported only here, and only when a run asks for
a cluster.
"""
