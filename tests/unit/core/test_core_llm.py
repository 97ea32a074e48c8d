"""One LLM client and one set of settings for the tier opinion and the dialog's rewording."""

from __future__ import annotations

import pytest

from tierline.core.llm import LlmConfig


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/",
                                 "http://127.0.0.1:8080/v1/chat/completions"])
def test_base_or_full_url_reach_the_same_endpoint(url):
    assert LlmConfig(url).endpoint == "http://127.0.0.1:8080/v1/chat/completions"


def test_settings_from_the_environment(monkeypatch):
    for name in ("TIERLINE_LLM_URL", "TIERLINE_LLM_API_KEY", "TIERLINE_LLM_KEY",
                 "TIERLINE_LLM_TIMEOUT", "TIERLINE_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert LlmConfig.from_env() is None
    monkeypatch.setenv("TIERLINE_LLM_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("TIERLINE_LLM_API_KEY", "k1")
    monkeypatch.setenv("TIERLINE_LLM_TIMEOUT", "99")
    config = LlmConfig.from_env()
    assert config.api_key == "k1" and config.timeout_s == 10.0 and config.model == "default"


def test_old_key_variable_still_works_with_a_warning(monkeypatch):
    monkeypatch.setenv("TIERLINE_LLM_URL", "http://127.0.0.1:1/v1")
    monkeypatch.delenv("TIERLINE_LLM_API_KEY", raising=False)
    monkeypatch.setenv("TIERLINE_LLM_KEY", "old")
    with pytest.warns(FutureWarning, match="TIERLINE_LLM_API_KEY"):
        config = LlmConfig.from_env()
    assert config.api_key == "old"


def test_both_features_read_the_same_settings(monkeypatch):
    from tierline.agent.dialog.llm_reply import LlmReplier
    from tierline.segmentation.llm_opinion import llm_from_env

    monkeypatch.setenv("TIERLINE_LLM_URL", "http://127.0.0.1:1/v1/chat/completions")
    monkeypatch.setenv("TIERLINE_LLM_API_KEY", "k")
    monkeypatch.delenv("TIERLINE_LLM_TIMEOUT", raising=False)
    scorer = llm_from_env()
    replier = LlmReplier(LlmConfig.from_env(), "V", "facts")
    assert scorer.config == replier.config
    assert replier.config.endpoint.count("/chat/completions") == 1
