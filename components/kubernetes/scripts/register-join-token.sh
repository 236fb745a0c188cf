#!/bin/bash
# Registers a worker's own join token on this control plane, valid for TTL from now: the program
# runs it over SSH (components/kubernetes/join-tokens.ts) just before it creates the worker's VM,
# with the token on stdin (never on a command line the program logs). `--delete ID` removes a
# token when the program removes its worker (an expired one is already gone: not an error).
# Usage: incant-register-join-token NODE TTL < token | incant-register-join-token --delete TOKEN_ID
set -euo pipefail
export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.conf}

usage() { echo "usage: incant-register-join-token NODE TTL < token | --delete TOKEN_ID" >&2; exit 2; }

if [ "${1:-}" = --delete ]; then
    if [ "$#" -ne 2 ] || ! [[ $2 =~ ^[a-z0-9]{6}$ ]]; then usage; fi
    kubeadm token delete "$2" > /dev/null 2>&1 || true
    echo "join token $2 deleted (or already expired)"
    exit 0
fi

[ "$#" -eq 2 ] || usage
node=$1 ttl=$2
[[ $node =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || { echo "incant-register-join-token: '${node}' is not a node name" >&2; exit 2; }
[[ $ttl =~ ^[1-9][0-9]*[hm]$ ]] || { echo "incant-register-join-token: TTL '${ttl}' is not like 3h or 90m" >&2; exit 2; }
token=
IFS= read -r token || true
[[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] \
    || { echo "incant-register-join-token: no join token on stdin (kubeadm's format: [a-z0-9]{6}.[a-z0-9]{16})" >&2; exit 2; }

# A re-run (the VM's creation failed and is retried) registers the same token with a fresh TTL.
kubeadm token delete "${token%%.*}" > /dev/null 2>&1 || true
kubeadm token create "$token" --ttl "$ttl" --description "INCANT join token of ${node}, registered by the Pulumi program" > /dev/null
echo "join token ${token%%.*}.**************** of ${node} registered, valid for ${ttl}"
