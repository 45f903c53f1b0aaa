"""Operate a cluster from its cluster file over OpenSSH: ``dsprep up``, ``down``, ``status``
and ``logs`` drive the scripts emit-launch wrote on every node."""
