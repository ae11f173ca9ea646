"""The template library, the template page with its dependency diagram, and clone & customise
through the same ``save_template`` as the admin and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import OperatorFactory
from workflows.diagrams import dependency_mermaid, dependency_outline, mermaid_label
from workflows.library import offset_phrase, success_rate, success_text
from workflows.models import Run, TemplateTask, WorkflowTemplate
from workflows.services import instantiate_run, save_template

HX = {"HX-Request": "true"}


def newsletter(name: str = "Newsletter", **extra) -> WorkflowTemplate:
    return save_template(
        data={
            "name": name,
            "category": "Community",
            "description": "The weekly issue.",
            "stages": ["Draft", "Review & send"],
            "run_links": ["Mailchimp newsletter"],
            **extra,
        },
        tasks=[
            {"ref": "draft", "title": "Draft issue", "stage": "Draft", "offset_days": -2, "requires_file": True},
            {
                "ref": "send",
                "title": "Send issue",
                "stage": "Review & send",
                "depends_on": ["draft"],
                "requires_link": "Archive URL",
                "requires_run_links": ["Mailchimp newsletter"],
            },
        ],
    )


def editor_post(template: WorkflowTemplate, tasks: list[dict], **fields) -> dict:
    """The editor's form data: the template's fields and one form per task definition."""
    data = {
        "name": template.name,
        "description": template.description,
        "category": template.category,
        "stages": ", ".join(template.stages),
        "run_links": ", ".join(template.run_links),
        "tasks-TOTAL_FORMS": str(len(tasks)),
        "tasks-INITIAL_FORMS": str(template.tasks.count()),
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, task in enumerate(tasks):
        for name, value in task.items():
            if isinstance(value, bool):
                if value:
                    data[f"tasks-{index}-{name}"] = "on"
            elif isinstance(value, list):
                data[f"tasks-{index}-{name}"] = ", ".join(value)
            elif value is not None:
                data[f"tasks-{index}-{name}"] = str(value)
    return data


def existing_tasks(template: WorkflowTemplate) -> list[dict]:
    return [
        {
            "ref": t.ref,
            "title": t.title,
            "instructions": t.instructions,
            "stage": t.stage,
            "offset_days": t.offset_days,
            "assignee": t.assignee_id or "",
            "depends_on": t.depends_on,
            "requires_link": t.requires_link,
            "requires_file": t.requires_file,
            "requires_proof_note": t.requires_proof_note,
            "requires_run_links": t.requires_run_links,
            "estimate_minutes": t.estimate_minutes,
        }
        for t in template.tasks.all()
    ]


# ---------------------------------------------------------------------------------------------
# Doors
# ---------------------------------------------------------------------------------------------


def _urls(template) -> list[tuple[str, str]]:
    return [
        ("get", reverse("template-library")),
        ("get", reverse("template-detail", args=[template.pk])),
        ("get", reverse("template-clone", args=[template.pk])),
        ("post", reverse("template-clone", args=[template.pk])),
        ("get", reverse("template-edit", args=[template.pk])),
        ("post", reverse("template-edit", args=[template.pk])),
    ]


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login_from_every_template_page_and_fragment(client):
    template = newsletter()
    for method, url in _urls(template):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        hx = getattr(client, method)(url, headers=HX)
        assert hx.status_code == 401 and hx["HX-Redirect"] == "/accounts/login/", url


@pytest.mark.django_db
def test_outsiders_are_refused_every_template_page_and_fragment_and_change_nothing(client, outsider):
    template = newsletter()
    client.force_login(outsider)
    for method, url in _urls(template):
        assert getattr(client, method)(url).status_code == 403, url
        assert getattr(client, method)(url, headers=HX).status_code == 403, url
    client.post(reverse("template-clone", args=[template.pk]), {"name": "Stolen"})
    client.post(reverse("template-edit", args=[template.pk]), editor_post(template, [], name="Renamed"))
    assert list(WorkflowTemplate.objects.values_list("name", flat=True)) == ["Newsletter"]
    assert template.tasks.count() == 2


# ---------------------------------------------------------------------------------------------
# Library
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_library_card_shows_category_stages_tasks_trigger_runs_and_success_rate(client, operator):
    template = newsletter(
        trigger_type="automatic", trigger_schedule="0 9 * * TUE", trigger_timezone="Europe/Berlin", trigger_lead_days=7
    )
    done, cancelled, _active = (
        instantiate_run(template=template, anchor_date=dt.date(2028, 3, day)).run for day in (1, 8, 15)
    )
    for task in done.tasks.order_by("due_date"):
        task.skip(reason="Not this week")
    cancelled.cancel(reason="Holiday")
    client.force_login(operator)
    body = client.get(reverse("template-library")).content.decode()
    assert "Community" in body
    assert "Draft → Review &amp; send" in body
    assert "2 tasks" in body
    assert "At 09:00, only on Tuesday (Europe/Berlin); each run is anchored 7 days after it starts" in body
    assert "3 launched" in body
    assert "50% succeeded (1 of 2 finished)" in body


@pytest.mark.django_db
def test_library_says_when_no_run_finished_yet_and_names_manual_templates(client, operator):
    newsletter()
    client.force_login(operator)
    body = client.get(reverse("template-library")).content.decode()
    assert "no finished runs yet" in body
    assert "Launched by hand" in body


@pytest.mark.django_db
def test_library_filters_by_category_and_searches_names(client, operator):
    newsletter("Newsletter")
    newsletter("Tax report", category="Finance", description="Monthly VAT.")
    client.force_login(operator)

    def names(**query) -> set[str]:
        body = client.get(reverse("template-library"), query).content.decode()
        return {name for name in ("Newsletter", "Tax report") if f">{name}</a>" in body}

    assert names() == {"Newsletter", "Tax report"}
    assert names(category="Finance") == {"Tax report"}
    assert names(q="vat") == {"Tax report"}
    assert names(q="news", category="Finance") == set()


@pytest.mark.django_db
def test_library_hides_archived_templates(client, operator):
    from django.utils import timezone

    old = newsletter("Old newsletter")
    WorkflowTemplate.objects.filter(pk=old.pk).update(archived_at=timezone.now())
    client.force_login(operator)
    assert "Old newsletter" not in client.get(reverse("template-library")).content.decode()


@pytest.mark.django_db
def test_library_htmx_request_gets_only_the_results(client, operator):
    newsletter()
    client.force_login(operator)
    body = client.get(reverse("template-library"), {"q": "news"}, headers=HX).content.decode()
    assert 'id="template-results"' in body and "Newsletter" in body and "<html" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("size", [2, 10])
def test_library_query_count_does_not_grow_with_templates(client, operator, django_assert_max_num_queries, size):
    for index in range(size):
        template = newsletter(f"Template {index}", category=f"Category {index % 3}")
        instantiate_run(template=template, anchor_date=dt.date(2028, 3, 1))
    client.force_login(operator)
    client.get(reverse("template-library"))
    with django_assert_max_num_queries(6):
        body = client.get(reverse("template-library"), {"category": "Category 1"}).content.decode()
    assert "Category 1" in body
    with django_assert_max_num_queries(6):
        assert client.get(reverse("template-library")).content.decode().count('<article class="card"') == size


# ---------------------------------------------------------------------------------------------
# Template page and its diagram
# ---------------------------------------------------------------------------------------------


def test_mermaid_graph_has_stage_boxes_in_order_nodes_and_prerequisite_edges():
    tasks = [
        {"ref": "send", "title": "Send issue", "stage": "Review", "depends_on": ["draft", "art"]},
        {"ref": "draft", "title": "Draft issue", "stage": "Draft", "depends_on": []},
        {"ref": "art", "title": "Pick art", "stage": "Draft", "depends_on": ["ghost"]},
    ]
    text = dependency_mermaid(["Draft", "Review"], tasks)
    assert text.splitlines() == [
        "flowchart TD",
        '  subgraph s0["Draft"]',
        '    t1["Draft issue"]',
        '    t2["Pick art"]',
        "  end",
        '  subgraph s1["Review"]',
        '    t0["Send issue"]',
        "  end",
        "  t1 --> t0",
        "  t2 --> t0",
    ]


def test_mermaid_labels_cannot_break_out_of_their_quotes():
    label = mermaid_label('Say "hi"]) --> x; <b>#1</b> & `code` {a|b}\nnext')
    assert (
        label
        == '"Say #quot;hi#quot;#93;) --#gt; x; #lt;b#gt;#35;1#lt;/b#gt; #amp; #96;code#96; #123;a#124;b#125; next"'
    )
    assert label.count('"') == 2 and "\n" not in label


def test_mermaid_graph_keeps_tasks_of_stages_the_template_no_longer_lists():
    text = dependency_mermaid(["Draft"], [{"ref": "a", "title": "A", "stage": "Old", "depends_on": []}])
    assert 'subgraph s1["Old"]' in text and 't0["A"]' in text


def test_dependency_outline_names_prerequisites_by_title():
    outline = dependency_outline(
        [
            {"ref": "draft", "title": "Draft issue", "stage": "Draft", "depends_on": []},
            {"ref": "send", "title": "Send issue", "stage": "Send", "depends_on": ["draft"]},
        ]
    )
    assert outline == [
        {"title": "Draft issue", "stage": "Draft", "after": []},
        {"title": "Send issue", "stage": "Send", "after": ["Draft issue"]},
    ]


def test_offset_and_success_wording():
    assert offset_phrase(-2) == "2 days before anchor"
    assert offset_phrase(-1) == "1 day before anchor"
    assert offset_phrase(0) == "on the anchor date"
    assert offset_phrase(3) == "3 days after anchor"
    assert success_rate(0, 0) is None and success_text(0, 0) == "no finished runs yet"
    assert success_rate(3, 1) == 0.75 and success_text(3, 1) == "75% succeeded (3 of 4 finished)"


@pytest.mark.django_db
def test_template_page_shows_stages_tasks_proof_run_links_and_the_diagram(client, operator):
    template = newsletter()
    TemplateTask.objects.filter(template=template, ref="draft").update(assignee=operator)
    client.force_login(operator)
    body = client.get(reverse("template-detail", args=[template.pk])).content.decode()
    assert "2 days before anchor" in body and "on the anchor date" in body
    assert "olivia" in body and "Unassigned" in body
    assert "Proof: file" in body and "Proof: link “Archive URL”" in body
    assert "Run link: Mailchimp newsletter" in body
    assert "After: Draft issue" in body
    assert '<pre class="mermaid dependency-diagram"' in body
    assert "t0 --&gt; t1" in body  # the graph text, HTML-escaped inside the page
    assert "vendor/mermaid/mermaid-12.3.0.min.js" in body
    assert "Send issue (Review &amp; send): after Draft issue" in body  # the text alternative


@pytest.mark.django_db
def test_mermaid_is_loaded_only_on_the_template_page(client, operator):
    template = newsletter()
    client.force_login(operator)
    for url in (reverse("template-library"), reverse("run-list"), reverse("template-edit", args=[template.pk])):
        assert "mermaid" not in client.get(url).content.decode(), url


@pytest.mark.django_db
def test_template_page_htmx_gets_the_detail_fragment(client, operator):
    template = newsletter()
    client.force_login(operator)
    body = client.get(reverse("template-detail", args=[template.pk]), headers=HX).content.decode()
    assert 'id="template-page"' in body and "<html" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 8])
def test_template_page_query_count_does_not_grow_with_tasks(client, operator, django_assert_max_num_queries, size):
    template = save_template(
        data={"name": "Chain", "stages": ["One"]},
        tasks=[
            {"ref": f"t{i}", "title": f"Step {i}", "depends_on": [f"t{i - 1}"] if i else [], "assignee": operator}
            for i in range(size)
        ],
    )
    client.force_login(operator)
    client.get(reverse("template-detail", args=[template.pk]))
    with django_assert_max_num_queries(5):
        assert client.get(reverse("template-detail", args=[template.pk])).status_code == 200


# ---------------------------------------------------------------------------------------------
# Clone & customise
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clone_copies_the_template_under_a_new_name_and_opens_its_editor(client, operator):
    template = newsletter()
    client.force_login(operator)
    response = client.post(reverse("template-clone", args=[template.pk]), {"name": "Newsletter (spring)"})
    clone = WorkflowTemplate.objects.get(name="Newsletter (spring)")
    assert response.status_code == 302 and response["Location"] == reverse("template-edit", args=[clone.pk])
    assert sorted(clone.tasks.values_list("ref", flat=True)) == ["draft", "send"]
    assert clone.tasks.get(ref="send").depends_on == ["draft"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "newsletter"])
def test_clone_with_a_missing_or_taken_name_is_refused_next_to_the_name(client, operator, name):
    template = newsletter()
    client.force_login(operator)
    response = client.post(reverse("template-clone", args=[template.pk]), {"name": name})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert WorkflowTemplate.objects.count() == 1


@pytest.mark.django_db
def test_editor_adds_a_task_with_a_dependency_and_changes_template_fields(client, operator):
    template = newsletter()
    other = OperatorFactory(username="sam")
    tasks = existing_tasks(template) + [
        {
            "ref": "promote",
            "title": "Promote on LinkedIn",
            "stage": "Review & send",
            "offset_days": 1,
            "assignee": other.pk,
            "depends_on": ["send"],
            "requires_link": "LinkedIn post URL",
            "requires_proof_note": True,
            "estimate_minutes": 15,
        }
    ]
    client.force_login(operator)
    response = client.post(
        reverse("template-edit", args=[template.pk]),
        editor_post(template, tasks, name="Weekly newsletter", category="Marketing", run_links="Mailchimp newsletter"),
    )
    assert response.status_code == 302 and response["Location"] == reverse("template-detail", args=[template.pk])
    template.refresh_from_db()
    assert (template.name, template.category) == ("Weekly newsletter", "Marketing")
    promote = template.tasks.get(ref="promote")
    assert promote.depends_on == ["send"]
    assert promote.assignee == other and promote.offset_days == 1 and promote.estimate_minutes == 15
    assert promote.requires_link == "LinkedIn post URL" and promote.requires_proof_note
    assert template.tasks.get(ref="draft").requires_file  # untouched definitions are kept
    diagram = client.get(reverse("template-detail", args=[template.pk])).content.decode()
    assert "Promote on LinkedIn" in diagram and "t1 --&gt; t2" in diagram


@pytest.mark.django_db
def test_editor_removes_a_task(client, operator):
    template = newsletter()
    tasks = existing_tasks(template)
    tasks[1]["DELETE"] = True
    client.force_login(operator)
    response = client.post(reverse("template-edit", args=[template.pk]), editor_post(template, tasks))
    assert response.status_code == 302
    assert list(template.tasks.values_list("ref", flat=True)) == ["draft"]


@pytest.mark.django_db
def test_editor_refuses_a_cycle_naming_it_next_to_each_dependency_and_saves_nothing(client, operator):
    template = newsletter()
    tasks = existing_tasks(template)
    tasks[0]["depends_on"] = ["send"]  # draft ← send ← draft
    client.force_login(operator)
    response = client.post(reverse("template-edit", args=[template.pk]), editor_post(template, tasks, name="Renamed"))
    assert response.status_code == 400
    body = response.content.decode()
    assert body.count("Task dependencies form a cycle: draft → send → draft.") == 2  # on both tasks
    assert "Nothing was saved" in body
    template.refresh_from_db()
    assert template.name == "Newsletter"
    assert template.tasks.get(ref="draft").depends_on == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"depends_on": ["ghost"]}, "depends on unknown task ref", "depends_on"),
        ({"stage": "Publish"}, "is not one of the template", "stage"),
        ({"ref": "bad ref!"}, "ref must be letters, digits", "ref"),
        ({"requires_run_links": ["LinkedIn"]}, "which the template does not define", "requires_run_links"),
        ({"offset_days": 99999}, "offset_days must be 3,650 or less", "offset_days"),
    ],
)
def test_editor_shows_each_refusal_next_to_the_task_field(client, operator, change, message, field):
    template = newsletter()
    tasks = existing_tasks(template)
    tasks[1].update(change)
    client.force_login(operator)
    response = client.post(reverse("template-edit", args=[template.pk]), editor_post(template, tasks))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    # The message sits in the second task's fieldset, with that field marked invalid.
    second = body[body.index('id="task-2"') :]
    assert message in second
    assert f'name="tasks-1-{field}"' in second
    field_html = second[second.index(f'name="tasks-1-{field}"') - 300 : second.index(f'name="tasks-1-{field}"') + 300]
    assert 'aria-invalid="true"' in field_html
    assert template.tasks.get(ref="send").stage == "Review & send"
    assert not template.tasks.filter(ref="bad ref!").exists()


@pytest.mark.django_db
def test_editor_shows_a_duplicate_name_next_to_the_name_field(client, operator):
    newsletter("Tax report")
    template = newsletter()
    client.force_login(operator)
    response = client.post(
        reverse("template-edit", args=[template.pk]), editor_post(template, existing_tasks(template), name="tax report")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "A template named &#x27;tax report&#x27; already exists." in body
    assert 'aria-invalid="true"' in body[body.index('name="name"') - 400 : body.index('name="name"') + 200]


@pytest.mark.django_db
def test_add_another_task_shows_a_blank_form_without_saving(client, operator):
    template = newsletter()
    tasks = existing_tasks(template)
    client.force_login(operator)
    data = editor_post(template, tasks, name="Not yet saved", add_task="1")
    response = client.post(reverse("template-edit", args=[template.pk]), data)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="tasks-2-ref"' in body and 'value="3"' in body
    template.refresh_from_db()
    assert template.name == "Newsletter"


@pytest.mark.django_db
def test_editor_page_lists_every_task_with_its_fields(client, operator):
    template = newsletter()
    client.force_login(operator)
    body = client.get(reverse("template-edit", args=[template.pk])).content.decode()
    for name in ("ref", "title", "instructions", "stage", "offset_days", "assignee", "depends_on"):
        assert f'name="tasks-0-{name}"' in body
    for name in ("requires_link", "requires_file", "requires_proof_note", "requires_run_links", "estimate_minutes"):
        assert f'name="tasks-1-{name}"' in body
    assert 'value="Mailchimp newsletter"' in body
    assert Run.objects.count() == 0
    htmx = client.get(reverse("template-edit", args=[template.pk]), headers=HX).content.decode()
    assert 'id="template-editor"' in htmx and "<html" not in htmx
