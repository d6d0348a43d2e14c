"""The Python client that openapi-python-client generated from docs/openapi.json (package
`cyberhub_api_client`, on PYTHONPATH), against the running server at CYBERHUB_TEST_HTTP.
Run by scripts/test-sdk.sh."""

import os
import random
import time
import unittest
from http import HTTPStatus

from cyberhub_api_client import AuthenticatedClient, Client
from cyberhub_api_client.api.ai import questionnaire, recommendations_of, search
from cyberhub_api_client.api.auth import me, signup
from cyberhub_api_client.api.content import list_content
from cyberhub_api_client.api.progress import create_progress, update_progress
from cyberhub_api_client.models import (
    AuthResponse,
    ContentList,
    ErrorBody,
    NewProgress,
    ProgressPatch,
    ProgressStatus,
    SearchRequest,
    SignupRequest,
    Track,
)

BASE = os.environ["CYBERHUB_TEST_HTTP"].rstrip("/") + "/api/v1"


def new_account(client: Client) -> AuthResponse:
    body = SignupRequest(
        email=f"py-{time.time_ns()}-{random.randrange(10**9)}@example.org",
        password="python-client-2026",
        first_name="Guido",
        last_name="Generated",
    )
    response = signup.sync_detailed(client=client, body=body)
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert isinstance(response.parsed, AuthResponse)
    return response.parsed


class GeneratedPythonClient(unittest.TestCase):
    def setUp(self):
        self.public = Client(base_url=BASE, raise_on_unexpected_status=True)
        self.auth = new_account(self.public)
        self.api = AuthenticatedClient(base_url=BASE, token=self.auth.access_token)

    def test_accounts_and_errors(self):
        who = me.sync(client=self.api)
        self.assertEqual(who.user.email, self.auth.user.email)

        again = signup.sync_detailed(
            client=self.public,
            body=SignupRequest(
                email=self.auth.user.email, password="python-client-2026", first_name="G", last_name="G"
            ),
        )
        self.assertEqual(again.status_code, HTTPStatus.CONFLICT)
        self.assertIsInstance(again.parsed, ErrorBody)
        self.assertTrue(again.parsed.detail)

        anonymous = AuthenticatedClient(base_url=BASE, token="not-a-jwt")
        self.assertEqual(me.sync_detailed(client=anonymous).status_code, HTTPStatus.UNAUTHORIZED)

    def test_catalog_and_progress(self):
        page = list_content.sync(client=self.api, track=Track.OFFENSIVE, page_size=4)
        self.assertIsInstance(page, ContentList)
        self.assertGreater(len(page.results), 0)
        item = page.results[0]
        self.assertEqual(item.track, Track.OFFENSIVE)

        created = create_progress.sync_detailed(
            client=self.api,
            body=NewProgress(content_id=item.content_id, content_type=item.content_type, completion_percentage=20.0),
        )
        self.assertEqual(created.status_code, HTTPStatus.CREATED, created.content)
        row = created.parsed
        self.assertEqual(row.status, ProgressStatus.IN_PROGRESS)

        done = update_progress.sync(
            client=self.api, id=row.id, body=ProgressPatch(status=ProgressStatus.COMPLETED, score=71.0)
        )
        self.assertEqual(done.status, ProgressStatus.COMPLETED)
        self.assertEqual(done.score, 71.0)

        bad = update_progress.sync_detailed(client=self.api, id=row.id, body=ProgressPatch(completion_percentage=-5.0))
        self.assertEqual(bad.status_code, HTTPStatus.BAD_REQUEST)
        self.assertTrue(bad.parsed.detail)

    def test_ai_routes(self):
        q = questionnaire.sync(client=self.public)
        self.assertGreaterEqual(len(q.questions), 15)

        found = search.sync(client=self.api, body=SearchRequest(query="malware reverse engineering", limit=3))
        self.assertEqual(len(found.results), 3)

        recs = recommendations_of.sync(client=self.api, user_id=self.auth.user.id, limit=5)
        self.assertTrue(recs.cold_start)
        self.assertEqual(len(recs.recommendations), 5)
        for r in recs.recommendations:
            self.assertTrue(r.reason)


if __name__ == "__main__":
    unittest.main()
