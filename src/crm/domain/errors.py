"""The domain's error tree: every failure a caller can act on has a stable code."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field; `field` is a JSON Pointer into the request body."""

    field: str
    code: str
    message: str


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    code = "domain_error"
    title = "Request could not be completed"

    def __init__(self, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    @property
    def extensions(self) -> dict[str, str]:
        """Members of the problem document of its own (RFC 9457), e.g. `merged_into`."""
        return {}


class NotFound(DomainError):
    code = "not_found"
    title = "Resource not found"


class ContactNotFound(NotFound):
    code = "contact_not_found"
    title = "Contact not found"


class WorkspaceNotFound(NotFound):
    code = "workspace_not_found"
    title = "Workspace not found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict with the current state"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "Resource already exists"


class EmailAlreadyInUse(AlreadyExists):
    code = "contact_email_taken"
    title = "Email already belongs to another contact"

    @classmethod
    def at(cls, index: int | None, email: str) -> EmailAlreadyInUse:
        pointer = "/emails" if index is None else f"/emails/{index}"
        return cls(
            f"{email} already belongs to another contact in this workspace.",
            errors=(FieldError(pointer, "email_taken", f"{email} is taken"),),
        )


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still running"


class IdempotencyKeyReused(DomainError):
    """The key was first used for a different request (method, path or body)."""

    code = "idempotency_key_reused"
    title = "The Idempotency-Key was used for a different request"


class VersionConflict(DomainError):
    """The caller's `If-Match` version is not the stored one."""

    code = "version_conflict"
    title = "The resource has changed since you read it"


class InvalidInput(DomainError):
    """Input that parses but breaks a business rule; `errors` names each field."""

    code = "validation_failed"
    title = "The request is invalid"


class InvalidQuery(InvalidInput):
    """Invalid query parameters of a list; `errors` name the parameter, not a body field."""


class RuleViolation(DomainError):
    code = "rule_violation"
    title = "The request breaks a business rule"


class PermissionDenied(DomainError):
    code = "permission_denied"
    title = "Not allowed"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    title = "The cursor is not valid for this list"


class PortError(Exception):
    """An outside system failed; adapters raise it (or a subclass) from vendor errors.

    The message is for the log; `code`, `title` and `advice` are what a client may be told.
    """

    code = "service_unavailable"
    title = "A dependency is unavailable"
    advice = "The service cannot reach a dependency right now; retry shortly."


class ServiceUnavailable(PortError):
    """The failure is transient: retrying later may succeed."""


class DatabaseUnavailable(ServiceUnavailable):
    """The database is unreachable, shutting down, or did not answer within its time bound."""

    code = "database_unavailable"
    title = "The database is unavailable"
    advice = "The database cannot be reached or did not answer in time; retry shortly."


class DeliveryRejected(PortError):
    """The provider refused the message for good (invalid or rejected recipient, bad key)."""


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "Member not found"


class LastOwner(Conflict):
    """A workspace always keeps at least one owner."""

    code = "last_owner"
    title = "The workspace's last owner cannot be removed or demoted"


class WorkspaceRequired(InvalidInput):
    """A person's request to workspace data names no workspace (or a malformed one)."""

    code = "workspace_required"
    title = "Name the workspace with X-Workspace-ID"


class ApiKeyRevoked(Unauthenticated):
    code = "api_key_revoked"
    title = "The API key has been revoked"


class ApiKeyExpired(Unauthenticated):
    code = "api_key_expired"
    title = "The API key has expired"


class CustomFieldNotFound(NotFound):
    code = "custom_field_not_found"
    title = "Custom field not found"


class CustomFieldKeyTaken(AlreadyExists):
    code = "custom_field_key_taken"
    title = "The object type already has a custom field with this key"


class TagNotFound(NotFound):
    code = "tag_not_found"
    title = "Tag not found"


class TagNameTaken(AlreadyExists):
    code = "tag_name_taken"
    title = "The tag catalogue already has a tag with this name"


class NoteNotFound(NotFound):
    code = "note_not_found"
    title = "Note not found"


class TaskNotFound(NotFound):
    code = "task_not_found"
    title = "Task not found"


class CompanyNotFound(NotFound):
    code = "company_not_found"
    title = "Company not found"


class CompanyDomainTaken(AlreadyExists):
    """A domain names one company per workspace; the problem names the company that has it."""

    code = "company_domain_taken"
    title = "Domain already belongs to another company"

    @classmethod
    def held_by(cls, domain: str, company_id: UUID | None) -> CompanyDomainTaken:
        holder = "another company" if company_id is None else f"company {company_id}"
        return cls(
            f"{domain} already belongs to {holder} in this workspace.",
            errors=(FieldError("/domain", "domain_taken", f"{domain} belongs to {holder}"),),
        )


class PipelineNotFound(NotFound):
    code = "pipeline_not_found"
    title = "Pipeline not found"


class StageNotFound(NotFound):
    code = "stage_not_found"
    title = "Stage not found"


class DealNotFound(NotFound):
    code = "deal_not_found"
    title = "Deal not found"


class StageHasDeals(Conflict):
    """Deleting a stage (or changing its kind) that deals are in: move them in the same call."""

    code = "stage_has_deals"
    title = "The stage still holds deals"


class PipelineHasDeals(Conflict):
    code = "pipeline_has_deals"
    title = "The pipeline still holds deals"


class DefaultPipelineRequired(Conflict):
    """A workspace always has one default pipeline: make another one default first."""

    code = "default_pipeline_required"
    title = "The workspace needs a default pipeline"


class StageNotInPipeline(InvalidInput):
    """A stage id that is not a stage of the deal's pipeline (or exists nowhere)."""

    code = "stage_not_in_pipeline"
    title = "The stage is not a stage of this pipeline"


class RecordMerged(NotFound):
    """The record was merged into another; `merged_into` names the survivor, and the problem
    document carries it as an extension member."""

    def __init__(
        self, detail: str, merged_into: UUID, *, errors: tuple[FieldError, ...] = ()
    ) -> None:
        super().__init__(detail, errors=errors)
        self.merged_into = merged_into

    @property
    def extensions(self) -> dict[str, str]:
        return {"merged_into": str(self.merged_into)}


class ContactMerged(RecordMerged, ContactNotFound):
    code = "contact_merged"
    title = "Contact merged into another"


class CompanyMerged(RecordMerged, CompanyNotFound):
    code = "company_merged"
    title = "Company merged into another"


class MergeIntoSelf(InvalidInput):
    code = "merge_into_self"
    title = "A record cannot be merged into itself"


class ExternalIdTaken(AlreadyExists):
    """An external id names one record of its type per workspace; the problem names the holder."""

    code = "external_id_taken"
    title = "External id already belongs to another record"

    @classmethod
    def held_by(cls, noun: str, external_id: str, holder: UUID | None) -> ExternalIdTaken:
        who = f"another {noun}" if holder is None else f"{noun} {holder}"
        return cls(
            f"External id {external_id!r} already belongs to {who} in this workspace.",
            errors=(FieldError("/external_id", "external_id_taken", f"belongs to {who}"),),
        )


class AmbiguousMatch(Conflict):
    """A batch upsert item whose key values match more than one existing record."""

    code = "ambiguous_match"
    title = "The item matches more than one record"


class DuplicateInBatch(Conflict):
    """A batch item naming a record, or a key value, that an earlier item of the batch took."""

    code = "duplicate_in_batch"
    title = "An earlier item of the batch has the same key"


class ImportNotFound(NotFound):
    code = "import_not_found"
    title = "Import not found"


class TransactionAborted(ServiceUnavailable):
    """The database aborted the transaction to break a deadlock (or a serialization conflict)
    with a concurrent writer: nothing was written, and the same request may be retried."""

    code = "concurrent_change"
    title = "A concurrent change got in the way"
    advice = (
        "The database aborted this change to let a concurrent one on the same records "
        "through; nothing was written: retry it."
    )
