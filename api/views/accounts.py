"""Accounts: register, and who am I."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor
from api.schema import error_responses
from api.serializers.common import StrictInputSerializer
from api.serializers.users import USER_READ_ONLY, MailboxEmailField, UserSerializer
from api.throttles import REGISTER, ScopedThrottle
from domain.errors import NotFound
from domain.experts import NAME_MAX
from domain.ids import ExpertId, UserId
from domain.users import Role, User
from services.accounts import SELF_SERVICE_ROLES


class RegisterApi(APIView):
    """Create a client or expert account. Log in afterwards at /auth/token/."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = REGISTER

    class InputSerializer(StrictInputSerializer):
        read_only_fields = USER_READ_ONLY

        email = MailboxEmailField(max_length=254)
        password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
        name = serializers.CharField(max_length=NAME_MAX)
        role = serializers.ChoiceField(choices=[r.value for r in SELF_SERVICE_ROLES])

        class Meta:
            ref_name = "RegisterInput"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            # Django's validators compare the password with the would-be account's attributes;
            # an unsaved user instance is what they know how to read.
            candidate = get_user_model()(email=attrs["email"], name=attrs["name"])
            try:
                validate_password(attrs["password"], user=candidate)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)}) from error
            return attrs

    OutputSerializer = UserSerializer

    @extend_schema(
        operation_id="account_register",
        tags=["auth"],
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 409, 429)},
    )
    @inject
    def post(self, request: Request, account_register: Callable[..., User] = Provider["account_register"]) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = account_register(
            email=data["email"], password=data["password"], name=data["name"], role=Role(data["role"])
        )
        return Response(self.OutputSerializer(user).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    """The signed-in account, with its expert profile id when it has one."""

    OutputSerializer = UserSerializer

    @extend_schema(tags=["auth"], operation_id="me", responses={200: OutputSerializer, **error_responses(401)})
    @inject
    def get(
        self,
        request: Request,
        user_get: Callable[..., User] = Provider["user_get"],
        expert_get_mine: Callable[..., Any] = Provider["expert_get_mine"],
    ) -> Response:
        user = user_get(user_id=actor(request))
        profile_id = own_profile_id(expert_get_mine, user) if user.role is Role.EXPERT else None
        return Response(self.OutputSerializer(user, context={"expert_profile_id": profile_id}).data)


def own_profile_id(expert_get_mine: Callable[..., Any], user: User) -> ExpertId | None:
    """The expert's profile id, or None before they create one.

    expert_get_mine raises NotFound for "no profile yet", which here is an
    answer, not an error; a service returning None would remove this except.
    """
    try:
        return ExpertId(expert_get_mine(actor=UserId(user.id)).id)
    except NotFound:
        return None
