#!/usr/bin/env python3
"""Turns a DaemonSet into the Pod it would run on one node, for `podman kube play` (podman 4.3 plays Pods,
Deployments, PersistentVolumeClaims, ConfigMaps and Secrets, not DaemonSets), and drops the kinds it cannot
play (Service). Reads YAML documents on stdin, writes them to stdout.

--host-network: the pods share the host's network (hostNetwork: true), so the tests' mock upstream on 127.0.0.1 is
reachable; their containerPorts, which podman would publish on the host, are dropped.
"""
import sys

import yaml

PLAYABLE = {"Pod", "Deployment", "PersistentVolumeClaim", "ConfigMap", "Secret"}
host_network = "--host-network" in sys.argv[1:]
out = []
for document in yaml.safe_load_all(sys.stdin):
    if not document:
        continue
    if document.get("kind") == "DaemonSet":
        template = document["spec"]["template"]
        metadata = dict(template.get("metadata", {}))
        metadata["name"] = document["metadata"]["name"]
        document = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
    if document.get("kind") == "Pod" and host_network:
        document["spec"]["hostNetwork"] = True
        for container in document["spec"].get("containers", []):
            container.pop("ports", None)
    if document.get("kind") in PLAYABLE:
        out.append(document)
yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
