#!/bin/sh
# cdk.json's "app": what the CDK CLI runs to synthesize. Without the virtual env (a fresh clone
# where `npx cdk synth` came before any `make`) say what to run instead of "not found".
if [ ! -x .venv/bin/python ]; then
    echo "no .venv here: run \`make synth\` first (it installs the virtual env and the pinned CDK CLI, then synthesizes)" >&2
    exit 1
fi
exec .venv/bin/python app.py
