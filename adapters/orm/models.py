"""Relational schema. Rows are mapped to domain entities in repositories.py, never leaked."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from domain.users import email_key

ROLE_CHOICES = [("client", "Client"), ("expert", "Expert"), ("staff", "Staff")]
EXPERT_STATUS_CHOICES = [("draft", "Draft"), ("published", "Published"), ("suspended", "Suspended")]
BOOKING_STATUS_CHOICES = [
    ("requested", "Requested"),
    ("accepted", "Accepted"),
    ("declined", "Declined"),
    ("cancelled", "Cancelled"),
    ("completed", "Completed"),
]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=email, **extra)  # save() stores it as email_key
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True, role="staff")
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        """The login look-up of every authentication path (simplejwt, the admin, createsuperuser):
        whatever case or compatibility form was typed finds the one account of that mailbox."""
        return self.get(email=email_key(username or ""))


class User(AbstractBaseUser, PermissionsMixin):
    """The account. Email is the login; the domain sees id, email, role, name, signup time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=ROLE_CHOICES, default="client", db_index=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log into the admin.")
    date_joined = models.DateTimeField(default=timezone.now, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "experthub_user"
        ordering = ["-date_joined"]
        constraints = [
            # save() stores email_key(email), so the unique column is one row per mailbox. This
            # catches what bypasses save() (update(), raw SQL) in the commonest case: letter case.
            models.UniqueConstraint(Lower("email"), name="experthub_user_email_lower_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = email_key(self.email)
        super().save(*args, **kwargs)


class ExpertProfileRow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.OneToOneField(User, on_delete=models.PROTECT, related_name="expert_profile")
    display_name = models.CharField(max_length=100)
    headline = models.CharField(max_length=120)
    bio = models.TextField(blank=True, max_length=5000)
    skills = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    rate_amount = models.BigIntegerField(help_text="Hourly rate in minor units (cents).")
    rate_currency = models.CharField(max_length=3)
    timezone = models.CharField(max_length=64, default="UTC")
    avatar_key = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=10, choices=EXPERT_STATUS_CHOICES, default="draft")
    rating_count = models.PositiveIntegerField(default=0)
    rating_total = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "experthub_expert_profile"
        verbose_name = "expert profile"
        indexes = [models.Index(fields=["status", "-updated_at"], name="expert_status_updated")]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_amount__gte=0), name="expert_rate_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published", "suspended"]), name="expert_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} — {self.headline}"

    @property
    def rating_average(self) -> float | None:
        return round(self.rating_total / self.rating_count, 2) if self.rating_count else None


class BookingRow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(User, on_delete=models.PROTECT, related_name="bookings_as_client")
    expert = models.ForeignKey(ExpertProfileRow, on_delete=models.PROTECT, related_name="bookings")
    # Denormalised from expert.owner so "my bookings as expert" needs no join.
    expert_user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="bookings_as_expert")
    starts_at = models.DateTimeField()
    # Stored (not derived) so the store can check overlaps itself.
    ends_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField()
    topic = models.CharField(max_length=200)
    price_amount = models.BigIntegerField()
    price_currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=BOOKING_STATUS_CHOICES, default="requested")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "experthub_booking"
        indexes = [
            models.Index(fields=["client", "-starts_at"], name="booking_client_start"),
            models.Index(fields=["expert_user", "-starts_at"], name="booking_expert_user_start"),
            models.Index(fields=["expert", "status", "starts_at"], name="booking_expert_status_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="booking_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=30, duration_minutes__lte=240), name="booking_duration_range"
            ),
            models.CheckConstraint(condition=~models.Q(client=models.F("expert_user")), name="booking_no_self_booking"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} ({self.status})"


class ReviewRow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking = models.OneToOneField(BookingRow, on_delete=models.PROTECT, related_name="review")
    expert = models.ForeignKey(ExpertProfileRow, on_delete=models.PROTECT, related_name="reviews")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="reviews_written")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "experthub_review"
        indexes = [models.Index(fields=["expert", "-created_at"], name="review_expert_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_range"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ on {self.booking_id}"


class ExpertViewCountRow(models.Model):
    """Views of one profile on one UTC day (the ORM twin of the Redis counters)."""

    expert = models.ForeignKey(ExpertProfileRow, on_delete=models.CASCADE, related_name="view_counts")
    day = models.DateField()
    views = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "experthub_expert_view_count"
        verbose_name = "expert view count"
        constraints = [
            # One row per profile and day: a view increments it in place.
            models.UniqueConstraint(fields=["expert", "day"], name="expert_view_count_once_per_day"),
        ]
        # Trending scans a range of days across every expert.
        indexes = [models.Index(fields=["day"], name="expert_view_count_day")]

    def __str__(self) -> str:
        return f"{self.expert_id} on {self.day}: {self.views}"


class SearchSkillCountRow(models.Model):
    """Searches that asked for one skill within one quarter hour (UTC), for the daily report.

    Quarter hours, not days: every time zone's midnight falls on a quarter hour, so
    any local calendar date is a whole number of these buckets.
    """

    skill = models.CharField(max_length=40)
    bucket = models.DateTimeField()
    searches = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "experthub_search_skill_count"
        verbose_name = "search skill count"
        constraints = [models.UniqueConstraint(fields=["skill", "bucket"], name="search_skill_count_once_per_bucket")]
        indexes = [models.Index(fields=["bucket"], name="search_skill_count_bucket")]

    def __str__(self) -> str:
        return f"{self.skill} at {self.bucket}: {self.searches}"


class ReportRunRow(models.Model):
    """One daily report delivery. The primary key is the report date: two beats, two
    workers or a retried task can never make a second run for the same date."""

    day = models.DateField(primary_key=True)
    tz = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=[("sending", "sending"), ("sent", "sent")])
    sends = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    # When the attempt now delivering it took it (its lease); null when nobody holds it.
    attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    html_key = models.CharField(max_length=255, blank=True)
    csv_key = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "experthub_report_run"
        verbose_name = "daily report"
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Daily report {self.day} ({self.status})"


class UploadRow(models.Model):
    """One presigned upload (domain.blobs.Upload). ``used_at`` set = confirmed or refused, for good."""

    id = models.UUIDField(primary_key=True)
    owner_id = models.UUIDField(db_index=True)  # an id, not a foreign key: another aggregate
    staging_key = models.CharField(max_length=512)
    final_key = models.CharField(max_length=512)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "experthub_upload"
        verbose_name = "upload"

    def __str__(self) -> str:
        return f"Upload {self.id} -> {self.final_key}"


SENT_EMAIL_STATUS_CHOICES = [("sending", "Sending"), ("sent", "Sent")]


class SentEmail(models.Model):
    """The durable record of one email delivery, keyed by its idempotency key (adapters/django_mail).

    ``sending`` is a claim: a worker is talking to the mail server since ``claimed_at``.
    ``sent``: the server accepted the message; the key is never delivered again.
    """

    # sha256 of the idempotency key: keys hold arbitrary text of any length.
    key_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=7, choices=SENT_EMAIL_STATUS_CHOICES)
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    claimed_at = models.DateTimeField()
    # "<host>:<pid>" of the process holding the claim (adapters/django_mail: a dead sender's claim).
    claimed_by = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "experthub_sent_email"
        verbose_name = "sent email"

    def __str__(self) -> str:
        return f"{self.subject} to {self.recipient} ({self.status})"


class OutboxEvent(models.Model):
    """A domain event, written in the transaction of the change it announces (adapters/celery).

    Sent to the broker after the commit, or later by the relay; ``published_at`` is set
    once the broker took it, and published rows are pruned after a while.
    """

    # Oldest first is by id: the relay takes rows in insertion order.
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=100)
    ids = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "experthub_outbox_event"
        verbose_name = "outbox event"
        indexes = [
            # The relay reads only what waits: a small index however many published rows remain.
            models.Index(fields=["id"], condition=models.Q(published_at__isnull=True), name="outbox_waiting"),
            models.Index(fields=["published_at"], name="outbox_published_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ids}"
