"""The root Mutation: one field per command, each returning a union of success and typed failures.

Nothing here changes or removes an event: every mutation appends one. Expected failures (a role that may
not record it, a rule broken, a stale expected version) are members of the result union, not errors.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema import access, deliveries, erasure, inputs
from schema.areas import Info
from schema.results import CommandResult, run

Expected = Annotated[
    int | None,
    strawberry.argument(
        description="Write only if the stream is at this version (0: it must not exist yet). Left out, the "
        "command checks its premises against the version it reads, and retries on its own."
    ),
]
_INPUT = strawberry.argument(description="What to record.")
Key = Annotated[
    str,
    strawberry.argument(
        description="1 to 200 printable characters, unique per request: a retry with the same key returns "
        "the first result and writes nothing."
    ),
]


@strawberry.type(description="Recording the programme's records. Each mutation appends one event.")
class Mutation:
    @strawberry.mutation(description="Register a town or subdistrict (admin).")
    async def register_town(
        self,
        info: Info,
        input: Annotated[inputs.RegisterTownInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "TownRegistered", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Register a community or village (admin).")
    async def register_community(
        self,
        info: Info,
        input: Annotated[inputs.RegisterCommunityInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "CommunityRegistered", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Rename a community (admin).")
    async def rename_community(
        self,
        info: Info,
        input: Annotated[inputs.RenameCommunityInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "CommunityRenamed", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Move a community to another town (admin).")
    async def transfer_community(
        self,
        info: Info,
        input: Annotated[inputs.TransferCommunityInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "CommunityTransferred", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Retire a community from the programme (admin).")
    async def retire_community(
        self,
        info: Info,
        input: Annotated[inputs.RetireCommunityInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "CommunityRetired", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a disclosure (公开) (clerk).")
    async def publish_disclosure(
        self,
        info: Info,
        input: Annotated[inputs.PublishDisclosureInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "DisclosurePublished", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a correction of a disclosure (clerk).")
    async def correct_disclosure(
        self,
        info: Info,
        input: Annotated[inputs.CorrectDisclosureInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "DisclosureCorrected", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record integrity education held (clerk).")
    async def record_training(
        self,
        info: Info,
        input: Annotated[inputs.RecordTrainingInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "TrainingHeld", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a new version of a community's rules (clerk).")
    async def revise_rule(
        self,
        info: Info,
        input: Annotated[inputs.ReviseRuleInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "RuleRevised", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a residents' meeting (clerk).")
    async def record_meeting(
        self,
        info: Info,
        input: Annotated[inputs.RecordMeetingInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "MeetingHeld", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a spot check (回头看) and its findings (inspector).")
    async def record_spot_check(
        self,
        info: Info,
        input: Annotated[inputs.RecordSpotCheckInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "SpotCheckRecorded", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a finding rectified, which closes it (clerk).")
    async def record_rectification(
        self,
        info: Info,
        input: Annotated[inputs.RecordRectificationInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "FindingRectified", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a report (监督举报) received (inspector).")
    async def receive_report(
        self,
        info: Info,
        input: Annotated[inputs.ReceiveReportInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "ReportReceived", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a report closed (inspector).")
    async def close_report(
        self,
        info: Info,
        input: Annotated[inputs.CloseReportInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "ReportClosed", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Designate a demonstration point (示范观察点) (admin).")
    async def designate_demonstration_point(
        self,
        info: Info,
        input: Annotated[inputs.DesignateDemonstrationPointInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "DemonstrationPointDesignated", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Recognize a leading talent (领军人才) (admin).")
    async def recognize_leading_talent(
        self,
        info: Info,
        input: Annotated[inputs.RecognizeLeadingTalentInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "LeadingTalentRecognized", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a duty report (述职述廉) filed (clerk).")
    async def file_duty_report(
        self,
        info: Info,
        input: Annotated[inputs.FileDutyReportInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "DutyReportFiled", input, expected_version, idempotency_key)

    @strawberry.mutation(description="Record a new version of the standard (admin).")
    async def revise_standard(
        self,
        info: Info,
        input: Annotated[inputs.ReviseStandardInput, _INPUT],
        idempotency_key: Key,
        expected_version: Expected = None,
    ) -> CommandResult:
        return await run(info, "StandardRevised", input, expected_version, idempotency_key)

    @strawberry.mutation(
        description="Issue a token (admin). The answer holds its secret this once; the grant is an event."
    )
    async def grant_access(
        self, info: Info, input: Annotated[access.GrantAccessInput, _INPUT]
    ) -> access.GrantResult:
        return await access.grant_access(info, input)

    @strawberry.mutation(description="Revoke a token from now on (admin); the revocation is an event.")
    async def revoke_access(
        self, info: Info, token_id: access.TokenId, reason: access.Reason
    ) -> access.RevokeResult:
        return await access.revoke_access(info, token_id, reason)

    @strawberry.mutation(
        description="Register a webhook endpoint (admin): the events from now on that the filter admits are "
        "POSTed to it, signed (Standard Webhooks). The answer holds its secret this once."
    )
    async def register_webhook(
        self, info: Info, input: Annotated[deliveries.RegisterWebhookInput, _INPUT]
    ) -> deliveries.WebhookResult:
        return await deliveries.register_webhook(info, input)

    @strawberry.mutation(description="Remove a webhook endpoint (admin): nothing more is delivered to it.")
    async def remove_webhook(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")],
    ) -> deliveries.WebhookRemoval:
        return await deliveries.remove_webhook(info, str(id))

    @strawberry.mutation(
        description="Erase a report's or a finding's restricted text (admin): its salts and values are "
        "deleted, an Erased event records which fields, when and why, and the log still verifies."
    )
    async def erase_restricted_text(
        self, info: Info, input: Annotated[erasure.EraseInput, _INPUT]
    ) -> erasure.EraseResult:
        return await erasure.erase_restricted_text(info, input)
