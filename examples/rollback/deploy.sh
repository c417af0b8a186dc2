#!/bin/sh
# Example rollback command: relbot runs it as argv (no shell parsing of the config), in the
# config file's directory, as ["./rollback/deploy.sh", "{product}", "{version}", "{components}"].
# Replace it with your deploy tool, e.g. `helm rollback`, `kubectl rollout undo`, `ansible-playbook`.
set -eu
product=$1 version=$2 components=${3:-}
echo "rolling $product back to $version${components:+ (components: $components)}"
echo "pulling image registry.example/$product:$version"
echo "switching traffic to $version"
echo "done"
