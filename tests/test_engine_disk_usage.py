"""The engine sizes its disk usage one call at a time and refuses a second with
"a disk usage operation is already running" (HTTP 500). Pages asking at once
(the build cache page in two tabs, two Dockyards, a terminal's `docker system df`)
must all be answered, not shown a Server Error."""

import threading

from images.engine import get_engine


def test_disk_usage_asked_six_times_at_once_answers_all_six(engine):
    answers, failures = [], []

    def ask():
        try:
            answers.append(get_engine().disk_usage())
        except Exception as exc:  # noqa: BLE001 - every failure is what the test reports
            failures.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(answers) == 6
    assert all("LayersSize" in answer and "Images" in answer for answer in answers)
