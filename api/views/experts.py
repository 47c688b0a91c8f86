"""Expert profiles: public search, detail and trending; the owner creates, edits, publishes; staff suspend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from dependency_injector.wiring import Provider, inject
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor, optional_actor
from api.pagination import PageQuerySerializer, page_envelope, page_request, paginated
from api.schema import error_responses
from api.serializers.common import (
    CURRENCIES,
    CommaSeparatedListField,
    LanguageInputField,
    MoneyInputSerializer,
    SkillInputField,
    StrictInputSerializer,
    StrictQuerySerializer,
    TimeZoneInputField,
)
from api.serializers.experts import PROFILE_READ_ONLY, AvatarUrls, ExpertProfileSerializer, profile_data
from domain.experts import BIO_MAX, HEADLINE_MAX, NAME_MAX, ExpertProfile
from domain.ids import ExpertId
from domain.money import MAX_MINOR_UNITS
from domain.search import MAX_QUERY_LENGTH, SearchQuery, SearchSort
from domain.skills import MAX_LANGUAGES, MAX_SKILLS, normalise_languages, normalise_skills
from services.experts import ExpertSearchPage
from services.profile_views import MAX_TRENDING_DAYS, MAX_TRENDING_LIMIT, TrendingExpert

ProfileUseCase = Callable[..., ExpertProfile]
PageUseCase = Callable[..., dict[str, Any]]
TAGS = ["experts"]


class ProfileInputSerializer(StrictInputSerializer):
    """The owner-editable fields: types and lengths here (so the schema shows them); normalising
    skills and languages, checking time zones, and every other content rule stay in the domain."""

    read_only_fields = PROFILE_READ_ONLY

    display_name = serializers.CharField(required=False, max_length=NAME_MAX, help_text="Defaults to the account name.")
    headline = serializers.CharField(max_length=HEADLINE_MAX)
    bio = serializers.CharField(required=False, allow_blank=True, max_length=BIO_MAX)
    skills = serializers.ListField(
        child=SkillInputField(),
        required=False,
        max_length=MAX_SKILLS,
        help_text="Free text; stored as normalised tags.",
    )
    languages = serializers.ListField(
        child=LanguageInputField(), required=False, max_length=MAX_LANGUAGES, help_text="ISO 639-1 codes."
    )
    timezone = TimeZoneInputField(required=False, max_length=64, help_text="IANA name, e.g. `Europe/Berlin`.")
    hourly_rate = MoneyInputSerializer()

    class Meta:
        ref_name = "ExpertProfileInput"


class SkillFacetSerializer(serializers.Serializer):
    skill = serializers.CharField()
    count = serializers.IntegerField()


class ExpertSearchApi(APIView):
    """Search published experts: free text, filters, sort, pages, and skill facets over all matches."""

    permission_classes = [AllowAny]

    class QuerySerializer(PageQuerySerializer):
        q = serializers.CharField(required=False, default="", allow_blank=True, max_length=MAX_QUERY_LENGTH)
        skills = CommaSeparatedListField(
            child=SkillInputField(),
            required=False,
            default=list,
            max_length=MAX_SKILLS,
            help_text="All must match; `a,b` or repeat.",
        )
        languages = CommaSeparatedListField(
            child=LanguageInputField(),
            required=False,
            default=list,
            max_length=MAX_LANGUAGES,
            help_text="Any may match; ISO 639-1.",
        )
        min_rate = serializers.IntegerField(required=False, min_value=0, max_value=MAX_MINOR_UNITS)
        max_rate = serializers.IntegerField(required=False, min_value=0, max_value=MAX_MINOR_UNITS)
        currency = serializers.ChoiceField(choices=CURRENCIES, required=False)
        min_rating = serializers.FloatField(required=False, min_value=0, max_value=5)
        sort = serializers.ChoiceField(choices=[s.value for s in SearchSort], default=SearchSort.RELEVANCE.value)

    OutputSerializer = paginated(ExpertProfileSerializer, "ExpertSearchPage", facets=SkillFacetSerializer(many=True))

    @extend_schema(
        operation_id="expert_search",
        tags=TAGS,
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400)},
    )
    @inject
    def get(
        self,
        request: Request,
        expert_search_page: PageUseCase = Provider["expert_search_page"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = search_query(params.validated_data)
        page = expert_search_page(query=query, render=lambda found: search_page_data(found, expert_avatar_urls))
        # The links are built per request (they carry its host and parameters); the rest may come from the cache.
        body = page_envelope(request, results=page["results"], total=page["total"], page=query.page)
        return Response({**body, "facets": page["facets"]})


def search_page_data(found: ExpertSearchPage, avatar_urls: AvatarUrls) -> dict[str, Any]:
    """One search page rendered, as the response cache keeps it (everything but the envelope's links)."""
    context = {"avatar_urls": avatar_urls(profiles=found.profiles)}
    return {
        "total": found.total,
        "results": ExpertProfileSerializer(found.profiles, many=True, context=context).data,
        "facets": SkillFacetSerializer(found.facets, many=True).data,
    }


def search_query(data: dict[str, Any]) -> SearchQuery:
    """The domain query; skills and languages are normalised as profiles store them."""
    return SearchQuery(
        text=data["q"],
        skills=normalise_skills(data["skills"]),
        languages=normalise_languages(data["languages"]),
        min_rate=data.get("min_rate"),
        max_rate=data.get("max_rate"),
        currency=data.get("currency"),
        min_rating=data.get("min_rating"),
        sort=SearchSort(data["sort"]),
        page=page_request(data),
    )


class ExpertCreateApi(APIView):
    """Create your expert profile (expert accounts only; one each). It starts as a draft."""

    InputSerializer = ProfileInputSerializer
    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_create",
        tags=TAGS,
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403, 409)},
    )
    @inject
    def post(self, request: Request, expert_create: ProfileUseCase = Provider["expert_create"]) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = expert_create(actor=actor(request), **serializer.validated_data)
        # A new profile has no avatar yet: nothing to presign.
        return Response(self.OutputSerializer(profile).data, status=status.HTTP_201_CREATED)


class ExpertMineApi(APIView):
    """Your own expert profile, whatever its status."""

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_get_mine", tags=TAGS, responses={200: OutputSerializer, **error_responses(401, 404)}
    )
    @inject
    def get(
        self,
        request: Request,
        expert_get_mine: ProfileUseCase = Provider["expert_get_mine"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        profile = expert_get_mine(actor=actor(request))
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))


class ExpertDetailApi(APIView):
    """A published profile, for anyone; a draft or suspended one only for its owner and staff."""

    permission_classes = [AllowAny]
    OutputSerializer = ExpertProfileSerializer

    @extend_schema(operation_id="expert_get", tags=TAGS, responses={200: OutputSerializer, **error_responses(404)})
    @inject
    def get(
        self,
        request: Request,
        expert_id: UUID,
        expert_profile_page: PageUseCase = Provider["expert_profile_page"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        page = expert_profile_page(
            actor=optional_actor(request),
            expert_id=ExpertId(expert_id),
            render=lambda profile: profile_data(profile, avatar_urls=expert_avatar_urls),
        )
        return Response(page)


class TrendingExpertSerializer(serializers.Serializer):
    expert = ExpertProfileSerializer(source="profile")
    views = serializers.IntegerField(help_text="Profile views in the window.")


class ExpertTrendingApi(APIView):
    """The most viewed published experts over the last `days` UTC calendar days, today included.

    Best effort: while the view counter is unavailable the list is empty.
    """

    permission_classes = [AllowAny]

    class QuerySerializer(StrictQuerySerializer):
        days = serializers.IntegerField(min_value=1, max_value=MAX_TRENDING_DAYS, default=7)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_TRENDING_LIMIT, default=10)

    class OutputSerializer(serializers.Serializer):
        days = serializers.IntegerField()
        results = TrendingExpertSerializer(many=True, help_text="Most views first, ties by expert id.")

        class Meta:
            ref_name = "TrendingExperts"

    @extend_schema(
        operation_id="expert_trending",
        tags=TAGS,
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400)},
    )
    @inject
    def get(
        self,
        request: Request,
        expert_trending: Callable[..., list[TrendingExpert]] = Provider["expert_trending"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        trending = expert_trending(**params.validated_data)
        context = {"avatar_urls": expert_avatar_urls(profiles=[entry.profile for entry in trending])}
        output = {"days": params.validated_data["days"], "results": trending}
        return Response(self.OutputSerializer(output, context=context).data)


class ExpertUpdateApi(APIView):
    """Change some fields of your profile; the others stay as they are."""

    InputSerializer = ProfileInputSerializer
    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_update",
        tags=TAGS,
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    @inject
    def patch(
        self,
        request: Request,
        expert_id: UUID,
        expert_update: ProfileUseCase = Provider["expert_update"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = expert_update(actor=actor(request), expert_id=ExpertId(expert_id), **serializer.validated_data)
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))


class ExpertPublishApi(APIView):
    """Publish your draft: it needs a headline, a skill and a rate above zero. Only the owner publishes."""

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_publish",
        tags=TAGS,
        request=None,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @inject
    def post(
        self,
        request: Request,
        expert_id: UUID,
        expert_publish: ProfileUseCase = Provider["expert_publish"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        profile = expert_publish(actor=actor(request), expert_id=ExpertId(expert_id))
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))


class ExpertSuspendApi(APIView):
    """Staff: take a published profile off the marketplace."""

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_suspend",
        tags=TAGS,
        request=None,
        responses={200: OutputSerializer, **error_responses(401, 403, 404, 409)},
    )
    @inject
    def post(
        self,
        request: Request,
        expert_id: UUID,
        expert_suspend: ProfileUseCase = Provider["expert_suspend"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        profile = expert_suspend(actor=actor(request), expert_id=ExpertId(expert_id))
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))


class ExpertReinstateApi(APIView):
    """Staff: put a suspended profile back on the marketplace."""

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="expert_reinstate",
        tags=TAGS,
        request=None,
        responses={200: OutputSerializer, **error_responses(401, 403, 404, 409)},
    )
    @inject
    def post(
        self,
        request: Request,
        expert_id: UUID,
        expert_reinstate: ProfileUseCase = Provider["expert_reinstate"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        profile = expert_reinstate(actor=actor(request), expert_id=ExpertId(expert_id))
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))
