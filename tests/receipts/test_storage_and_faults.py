"""Immutability, encryption, conditional puts, races and faults against moto's real endpoint."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import Engine, func, select

from paywindow.clock import ManualClock
from paywindow.receipts.render import Renderer
from paywindow.receipts.repository import receipts_for_order, request_rerender
from paywindow.receipts.service import ReceiptService, Submit
from paywindow.receipts.storage import ObjectStore
from paywindow.sandbox import free_port
from paywindow.sandbox.s3 import S3Handle
from paywindow.store.tables import outbox, receipt_versions, receipts
from tests.world import pay_order, pdf_text, place_order, receipt_service


def _rows(engine: Engine, order_id: str) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return receipts_for_order(conn, order_id)


def test_stored_object_is_locked_in_compliance_mode_and_kms_encrypted(
    engine: Engine, service: ReceiptService, s3: S3Handle, clock: ManualClock, submit: Submit
) -> None:
    pay_order(engine, "ord_s1")
    service.run_once(clock, submit)
    (row,) = _rows(engine, "ord_s1")
    client = s3.client()
    head = client.head_object(Bucket=s3.bucket, Key=row["object_key"], VersionId=row["version_id"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    assert abs(retain - (clock.now() + timedelta(days=2557))) < timedelta(seconds=2)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == s3.kms_key_id
    assert head["Metadata"]["sha256"] == row["sha256"]
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=s3.bucket, Key=row["object_key"], VersionId=row["version_id"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert client.head_object(Bucket=s3.bucket, Key=row["object_key"])["ETag"] == row["etag"]


def test_rerun_after_a_crash_adopts_the_stored_object(
    engine: Engine,
    service: ReceiptService,
    s3: S3Handle,
    clock: ManualClock,
    renderer: Renderer,
    submit: Submit,
) -> None:
    """The PDF reached S3 but the renderer died before recording it: no second receipt."""
    pay_order(engine, "ord_s2")
    service.issue(clock.now())
    (job,) = service.claim(clock.now(), 5)
    service.store.put_first(
        job.object_key,
        renderer.pdf(service.document(job)),
        now=clock.now(),
        metadata={"paywindow-version": "1"},
    )
    clock.advance(timedelta(minutes=3))  # the dead renderer's lease runs out
    report = service.run_once(clock, submit)
    assert (report.stored, report.adopted) == (1, 1)
    versions = s3.client().list_object_versions(Bucket=s3.bucket)["Versions"]
    assert len(versions) == 1


def test_two_renderers_racing_produce_one_receipt(
    engine: Engine, s3: S3Handle, clock: ManualClock, renderer: Renderer, submit: Submit
) -> None:
    for n in range(6):
        pay_order(engine, f"ord_race_{n}")
    services = [receipt_service(engine, s3) for _ in range(3)]
    barrier = threading.Barrier(len(services))
    errors: list[BaseException] = []

    def run(svc: ReceiptService) -> None:
        try:
            barrier.wait()
            svc.run_once(clock, submit)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(svc,)) for svc in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with engine.connect() as conn:
        numbers = sorted(conn.execute(select(receipts.c.seq)).scalars())
        stored = conn.execute(
            select(func.count()).select_from(receipts).where(receipts.c.status == "stored")
        ).scalar_one()
        messages = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.topic == "receipt.generated")
        ).scalar_one()
    assert numbers == [1, 2, 3, 4, 5, 6]  # one each, sequential, no gaps
    assert stored == 6 and messages == 6
    versions = s3.client().list_object_versions(Bucket=s3.bucket)["Versions"]
    assert len(versions) == 6


def test_s3_down_keeps_the_receipt_pending_then_stores_it_once(
    engine: Engine, s3: S3Handle, clock: ManualClock, submit: Submit
) -> None:
    pay_order(engine, "ord_f1")
    down = receipt_service(engine, s3)
    dead = S3Handle(f"http://127.0.0.1:{free_port()}", s3.region, s3.bucket, s3.kms_key_id)
    down.store = ObjectStore(
        dead.client(max_attempts=1, timeout=1.0),
        s3.bucket,
        kms_key_id=s3.kms_key_id,
        retention=timedelta(days=1),
    )
    report = down.run_once(clock, submit)
    assert (report.stored, report.failed) == (0, 1)
    (row,) = _rows(engine, "ord_f1")
    assert row["status"] == "pending" and row["version"] == 0
    assert "ObjectStoreUnavailable" in row["last_error"]
    assert "Traceback" in row["last_traceback"]
    assert down.links("ord_f1", clock.now())[0] == "pending"
    clock.advance(timedelta(seconds=2))  # past the backoff; S3 is back
    assert receipt_service(engine, s3).run_once(clock, submit).stored == 1
    (row,) = _rows(engine, "ord_f1")
    assert (row["status"], row["number"], row["attempts"]) == ("stored", "R-2026-000001", 2)


def test_template_error_is_kept_on_the_job_and_others_continue(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    pay_order(engine, "ord_f2")
    pay_order(engine, "ord_f3")
    original = service.document

    def broken(job):  # type: ignore[no-untyped-def]
        doc = original(job)
        if job.order_id == "ord_f2":
            object.__setattr__(doc, "kind", "no_such_template")
        return doc

    service.document = broken  # type: ignore[method-assign]
    report = service.run_once(clock, submit)
    assert (report.stored, report.failed) == (1, 1)
    (bad,) = _rows(engine, "ord_f2")
    assert bad["status"] == "pending" and "KeyError" in bad["last_traceback"]
    (good,) = _rows(engine, "ord_f3")
    assert good["status"] == "stored"


def test_never_a_receipt_for_an_unpaid_order(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    place_order(engine, "ord_u1")
    clock.advance(timedelta(hours=1))
    assert service.run_once(clock, submit).issued == 0
    assert _rows(engine, "ord_u1") == []
    assert service.links("ord_u1", clock.now()) == ("not_paid", [])


def test_admin_rerender_stores_a_new_version_and_keeps_the_original(
    engine: Engine, service: ReceiptService, s3: S3Handle, clock: ManualClock, submit: Submit
) -> None:
    pay_order(engine, "ord_v1")
    service.run_once(clock, submit)
    (first,) = _rows(engine, "ord_v1")
    with engine.begin() as conn:
        assert request_rerender(conn, "ord_v1", reason="seller renamed", now=clock.now())
    clock.advance(1)
    assert service.run_once(clock, submit).stored == 1
    (second,) = _rows(engine, "ord_v1")
    assert (second["number"], second["version"]) == (first["number"], 2)
    assert second["version_id"] != first["version_id"]
    assert "VERSION 2" in pdf_text(service, second)
    assert "VERSION 2" not in pdf_text(service, first, first["version_id"])
    with engine.connect() as conn:
        reasons = [r.reason for r in conn.execute(select(receipt_versions).order_by("version"))]
    assert reasons == [None, "seller renamed"]
    versions = s3.client().list_object_versions(Bucket=s3.bucket)["Versions"]
    assert {v["VersionId"] for v in versions} == {first["version_id"], second["version_id"]}
