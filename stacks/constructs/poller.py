"""The Step Functions poller that follows every long wait (handler: long_waits.poll_step, poller.poll_failed)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.personalize_resources import long_waits, poller
from lambdas.personalize_resources.address_book import whole_seconds
from lambdas.personalize_resources.environments import HandlerEnvironment
from config import AppConfig
from stacks.constructs.handler_functions import LOG_RETENTION, HandlerFunction


class Poller(Construct):
    """The Step Functions loop that follows import jobs, recommenders and trainings without a Lambda sleeping.

    Wait(`$.waitSeconds`, set per execution: a minute for imports, the config's poll interval for
    recommenders) → one `poll_step` (describe; act toward the goal; signal the WaitCondition on
    success or failure) → Choice(finished?) → Wait again. Any failure of the step is caught:
    `poll_failed` signals FAILURE with the error, then the execution fails.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, personalize_resources: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.step = HandlerFunction(
            self,
            "PollStep",
            handler="personalize_resources.long_waits.poll_step",
            description="One poll of an import job, recommender or training; signals its WaitCondition when done",
            operations=long_waits.POLLER_API_OPERATIONS,
            resources_by_operation={
                **{op: personalize_resources for op in long_waits.POLLER_API_OPERATIONS if ":" not in op},
                # Reads the WaitConditionHandle's URL from this stack only (the URL never travels).
                "cloudformation:DescribeStackResource": [Aws.STACK_ID],
            },
            timeout=Duration.minutes(1),
            environment=HandlerEnvironment(poller_timeout_seconds=whole_seconds(config.long_wait_timeout_hours)).to_variables(),
        )
        wait = sfn.Wait(self, "WaitBeforePoll", time=sfn.WaitTime.seconds_path("$.waitSeconds"))
        poll = tasks.LambdaInvoke(
            self, "Poll", lambda_function=self.step.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        # Catch-all: a poll step that fails or times out (after the task's retries) signals
        # FAILURE with the error, instead of leaving the deploy waiting for the WaitCondition.
        self.failure = HandlerFunction(
            self,
            "SignalFailure",
            handler="personalize_resources.poller.poll_failed",
            description="Signals FAILURE when a poll step failed or timed out",
            operations=poller.POLL_FAILED_API_OPERATIONS,
            resources_by_operation={"cloudformation:DescribeStackResource": [Aws.STACK_ID]},
            timeout=Duration.minutes(1),
        )
        signal_failure = tasks.LambdaInvoke(
            self, "SignalPollFailure", lambda_function=self.failure.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        poll.add_catch(
            signal_failure.next(sfn.Fail(self, "PollFailed", error="PollStepFailed", cause="the poll step failed; FAILURE was signalled")),
            errors=["States.ALL"],
            result_path="$.error",
        )
        finished = sfn.Choice(self, "Finished").when(sfn.Condition.boolean_equals("$.finished", True), sfn.Succeed(self, "Done"))
        definition = wait.next(poll).next(finished.otherwise(wait))
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(config.long_wait_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
