"""The API's URL map, mounted at /api/v1/ by project.urls."""

from __future__ import annotations

from django.urls import path

from api.auth import LoginApi, RefreshApi
from api.routing import route
from api.views import accounts, avatars, bookings, experts, reports, reviews, version

EXPERT = "experts/<uuid:expert_id>/"
BOOKING = "bookings/<uuid:booking_id>/"

urlpatterns = [
    path("auth/token/", LoginApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", RefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/register/", accounts.RegisterApi.as_view(), name="auth-register"),
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("experts/", route(get=experts.ExpertSearchApi, post=experts.ExpertCreateApi), name="experts"),
    path("experts/me/", experts.ExpertMineApi.as_view(), name="experts-me"),
    path("experts/trending/", experts.ExpertTrendingApi.as_view(), name="experts-trending"),
    path(EXPERT, route(get=experts.ExpertDetailApi, patch=experts.ExpertUpdateApi), name="expert"),
    path(f"{EXPERT}publish/", experts.ExpertPublishApi.as_view(), name="expert-publish"),
    path(f"{EXPERT}suspend/", experts.ExpertSuspendApi.as_view(), name="expert-suspend"),
    path(f"{EXPERT}reinstate/", experts.ExpertReinstateApi.as_view(), name="expert-reinstate"),
    path(f"{EXPERT}avatar/upload/", avatars.AvatarUploadStartApi.as_view(), name="expert-avatar-upload"),
    path(f"{EXPERT}avatar/confirm/", avatars.AvatarUploadConfirmApi.as_view(), name="expert-avatar-confirm"),
    path(f"{EXPERT}reviews/", reviews.ExpertReviewListApi.as_view(), name="expert-reviews"),
    path("bookings/", route(get=bookings.BookingListApi, post=bookings.BookingCreateApi), name="bookings"),
    path(BOOKING, bookings.BookingDetailApi.as_view(), name="booking"),
    path(f"{BOOKING}accept/", bookings.BookingAcceptApi.as_view(), name="booking-accept"),
    path(f"{BOOKING}decline/", bookings.BookingDeclineApi.as_view(), name="booking-decline"),
    path(f"{BOOKING}cancel/", bookings.BookingCancelApi.as_view(), name="booking-cancel"),
    path(f"{BOOKING}complete/", bookings.BookingCompleteApi.as_view(), name="booking-complete"),
    path(f"{BOOKING}review/", reviews.ReviewCreateApi.as_view(), name="booking-review"),
    path("reports/", reports.ReportListApi.as_view(), name="reports"),
    path("reports/<str:day>/", reports.ReportDetailApi.as_view(), name="report"),
    path("version/", version.VersionApi.as_view(), name="version"),
]
