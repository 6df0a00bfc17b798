"""The authorisation rule: every role against every required role, private and public, admin."""

import pytest

from server.db.models import Role
from server.domain.access import Decision, decide

ORDER = [Role.observer, Role.member, Role.secretary, Role.chair]


@pytest.mark.parametrize("public", [False, True])
@pytest.mark.parametrize("required", ORDER)
@pytest.mark.parametrize("role", ORDER)
def test_a_role_reaches_what_needs_its_rank_or_lower(role, required, public):
    expected = Decision.allow if ORDER.index(role) >= ORDER.index(required) else Decision.forbidden
    assert decide(required=required, role=role, is_public=public, authenticated=True) is expected


@pytest.mark.parametrize("role", ORDER)
def test_every_role_sees_the_public_face(role):
    assert decide(required=None, role=role, is_public=False, authenticated=True) is Decision.allow


@pytest.mark.parametrize("required", ORDER)
def test_no_role_on_a_private_table_is_not_found(required):
    assert decide(required=required, role=None, is_public=False, authenticated=True) is Decision.not_found
    assert decide(required=None, role=None, is_public=False, authenticated=True) is Decision.not_found


@pytest.mark.parametrize("required", ORDER)
def test_no_role_on_a_public_table_sees_it_but_cannot_act(required):
    assert decide(required=None, role=None, is_public=True, authenticated=True) is Decision.allow
    assert decide(required=required, role=None, is_public=True, authenticated=True) is Decision.forbidden


@pytest.mark.parametrize("public", [False, True])
@pytest.mark.parametrize("required", ORDER)
def test_anonymous_is_asked_to_log_in_for_anything_past_the_public_face(required, public):
    assert decide(required=required, role=None, is_public=public, authenticated=False) is Decision.login


def test_anonymous_sees_only_the_public_face_of_public_tables():
    assert decide(required=None, role=None, is_public=True, authenticated=False) is Decision.allow
    assert decide(required=None, role=None, is_public=False, authenticated=False) is Decision.login


@pytest.mark.parametrize("public", [False, True])
def test_admin_reads_every_table_but_acts_only_with_a_role(public):
    def admin(required, role=None):
        return decide(required=required, role=role, is_public=public, authenticated=True, is_admin=True)

    assert admin(None) is Decision.allow
    assert admin(Role.observer) is Decision.allow
    for required in (Role.member, Role.secretary, Role.chair):
        assert admin(required) is Decision.forbidden
        assert admin(required, role=Role.chair) is Decision.allow
