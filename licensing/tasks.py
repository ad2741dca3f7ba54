from celery import shared_task

from .usage import usage_report_process


@shared_task(name="licensing.process_usage_report", acks_late=True)
def process_usage_report(report_id: str) -> None:
    usage_report_process(report_id=report_id)
