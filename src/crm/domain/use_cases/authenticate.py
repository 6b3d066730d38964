from __future__ import annotations

from crm.domain.errors import Unauthenticated
from crm.domain.model.workspace import ApiKeySecrets, Principal
from crm.ports.repositories import ApiKeyReader


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "The credentials are not valid"


class AuthenticateApiKey:
    """Turn a bearer API key into the principal it acts as; unknown or revoked keys fail."""

    def __init__(self, keys: ApiKeyReader, secrets: ApiKeySecrets) -> None:
        self._keys, self._secrets = keys, secrets

    async def execute(self, token: str) -> Principal:
        if not ApiKeySecrets.looks_like_key(token):
            raise InvalidCredentials("The bearer token is not a CRM API key (crm_sk_...).")
        key = await self._keys.find_by_hash(self._secrets.hash(token))
        if key is None or not key.is_active:
            raise InvalidCredentials("The API key is unknown or has been revoked.")
        return key.principal()
