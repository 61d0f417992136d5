from archive import audit
from archive.home import Home
from tests.support.apptest import page, texts


def test_demo_sign_in_sets_the_role_and_is_audited(home):
    at = page("sign_in", role=None).run()
    assert not at.exception
    assert "Demo mode" in texts(at)
    at.text_input(key="sign_in.name").input("Ann Tech")
    at.selectbox(key="sign_in.role").select("technologist")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["auth.demo_role"] == "technologist"
    assert "Signed in as Ann Tech (technologist)" in texts(at)
    events = audit.events(Home(home.home))
    assert any(e["action"] == "sign_in" and e["user_id"] == "demo:Ann Tech" for e in events)


def test_demo_role_opens_pages(home):
    at = page("metrics", role=None)
    at.session_state["auth.demo_role"] = "manager"
    at.session_state["auth.demo_name"] = "Meg"
    at.run()
    assert not at.exception
    assert "Department metrics" in texts(at)
    assert "Signed in as **Meg**" in "\n".join(c.value for c in at.sidebar.caption)
