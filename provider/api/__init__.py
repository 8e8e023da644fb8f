"""The one door to the Proxmox API: connection settings and one HTTPS session per operation.

``settings`` reads where and how to reach the cluster from stack config or the environment;
``session`` sends every request pvenet makes, over one keep-alive connection, with one retry
table for all of them, and raises ``provider.errors.ApiCallFailed`` for every failure.
Nothing else in pvenet talks to the network.
"""
