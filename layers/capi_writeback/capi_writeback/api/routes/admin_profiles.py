"""The profile routes (SPEC §11.1): create, list, read, rename or change settings."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.admin import Profile, ProfileChange, ProfileCreate, ProfileList, ProfilePatch
from capi_writeback.flow.admin import profiles

CREATE = OperationRouter("profile_create")
LIST = OperationRouter("profile_list")
GET = OperationRouter("profile_get")
UPDATE = OperationRouter("profile_update", audited=True)
ROUTERS = (CREATE, LIST, GET, UPDATE)
WORKSPACE = ""  # a new profile is audited in the workspace's trail


@CREATE.post("/v1/profiles", summary="Create a profile (owners and admins)",
             tags=["admin"], responses=responses(ProfileChange, *COMMON))
def create_profile(request: Annotated[ProfileCreate, Body()]) -> ProfileChange:
    return ProfileChange.model_validate(profiles.create_profile(CREATE.call(WORKSPACE), request))


@LIST.get("/v1/profiles", summary="The workspace's profiles, their connection and breaker state",
          tags=["admin"], responses=responses(ProfileList, 401, 403, 422, 500))
def list_profiles() -> ProfileList:
    return ProfileList.model_validate(profiles.list_profiles(LIST.call(WORKSPACE)))


@GET.get("/v1/profiles/<profile_id>", summary="One profile, its connection and breaker state",
         tags=["admin"], responses=responses(Profile, *COMMON))
def get_profile(profile_id: ProfileId) -> Profile:
    return Profile.model_validate(profiles.get_profile(GET.call(profile_id)))


@UPDATE.patch("/v1/profiles/<profile_id>", summary="Rename a profile or change its settings",
              tags=["admin"], responses=responses(ProfileChange, *COMMON))
def update_profile(profile_id: ProfileId, request: Annotated[ProfilePatch, Body()]) -> ProfileChange:
    return ProfileChange.model_validate(profiles.update_profile(UPDATE.call(profile_id), request))
