"""Authentication: JWT login and refresh, and the actor a request acts as.

Why djangorestframework-simplejwt: it is the maintained JWT package DRF's own
docs point to; its tokens are stateless (a signed user id and expiry, no
session row or cookie), which suits the SPA and mobile clients that call this
API from other origins; and it supports refresh-token rotation
(ROTATE_REFRESH_TOKENS), so a leaked refresh token is short-lived. Access
tokens live minutes, refresh tokens days (SIMPLE_JWT in settings).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from api.errors import LOCKED_OUT_MESSAGE, lockout_seconds
from api.schema import error_responses
from api.throttles import LOGIN, TOKEN_REFRESH, ScopedThrottle
from domain.ids import UserId


def actor(request: Request) -> UserId:
    """The authenticated user the request acts as (views behind IsAuthenticated only)."""
    return UserId(request.user.id)


def optional_actor(request: Request) -> UserId | None:
    """The user, or None for an anonymous request to a public endpoint."""
    return UserId(request.user.id) if request.user.is_authenticated else None


class LoginSerializer(TokenObtainPairSerializer):
    """simplejwt's email+password check (the email is folded to domain.users.email_key by
    UserManager.get_by_natural_key, as registration stored it).

    A login locked out for too many failures (the admin's and this endpoint's together:
    one password opens both) is a 429 ``locked_out``, like the admin's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No address is longer (RFC 5321): a longer one is a 400 before any look-up or lockout record.
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=254)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except exceptions.AuthenticationFailed:
            # django-axes (settings AXES_*) counts this failure with the admin's and flags the request at the limit.
            if getattr(self.context["request"], "axes_locked_out", False):
                raise exceptions.Throttled(lockout_seconds(), LOCKED_OUT_MESSAGE, "locked_out") from None
            raise


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, answering 401 for a deleted account as it does for a deactivated one.

    simplejwt 5.5 looks the token's user up with ``objects.get``: an account deleted
    since login escaped as DoesNotExist, a 500. The check runs first here, so the
    token of a deleted account is refused before anything is blacklisted or issued.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        user_id = self.token_class(attrs["refresh"]).payload.get(jwt_settings.USER_ID_CLAIM)
        if not get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).exists():
            raise exceptions.AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        return super().validate(attrs)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`; expires in minutes.")
    refresh = serializers.CharField(help_text="Trade at /auth/token/refresh/ for a new access token.")


class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"})


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class RefreshOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(required=False, help_text="A new refresh token, when rotation is on.")


class LoginApi(TokenObtainPairView):
    """Log in with email and password; get an access and a refresh token."""

    serializer_class = LoginSerializer
    throttle_classes = [ScopedThrottle]
    throttle_scope = LOGIN

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token",
        request=LoginInputSerializer,
        responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().post(request, *args, **kwargs)


class RefreshApi(TokenRefreshView):
    """Trade a refresh token for a new access token."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = TOKEN_REFRESH
    serializer_class = RefreshSerializer

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_refresh",
        request=RefreshInputSerializer,
        responses={200: RefreshOutputSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().post(request, *args, **kwargs)
