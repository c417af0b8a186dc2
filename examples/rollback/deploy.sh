#!/bin/sh
# The demo's deploy tool: relbot runs it as argv (no shell parsing of the config), in the
# config file's directory, as ["./rollback/deploy.sh", "{product}", "{version}", "{components}"].
# Replace it with your deploy tool, e.g. `helm rollback`, `kubectl rollout undo`, `ansible-playbook`.
set -eu
product=$1 version=$2 components=${3:-}
mkdir -p deployed
echo "rolling $product back to $version${components:+ (components: $components)}"
echo "$version" > "deployed/$product"
echo "deployed/$product now says $version"
