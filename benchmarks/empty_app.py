"""The jsii floor: a one-stack CDK app synthesized like app.py does.

Its only resource is a no-op WaitConditionHandle, because the CDK CLI refuses a stack without
resources ("Resources section must exist and be non-empty").
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402

app = cdk.App()
stack = cdk.Stack(app, "Empty")
cdk.CfnWaitConditionHandle(stack, "Nothing")
app.synth()
