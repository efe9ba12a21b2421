# The config models load first: stacks.configuration completes its models with
# stacks.experiments', which in turn build on configuration's base model.
from stacks import configuration as _configuration  # noqa: F401
