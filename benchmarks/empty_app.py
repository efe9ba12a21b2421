"""The jsii floor: an empty one-stack CDK app, synthesized like app.py does (no CLI)."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
