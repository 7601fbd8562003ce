from audit_core.audit.conditions import conditions
from audit_core.config import AuditConfig
from audit_core.defenses import DefenderData, DynaNoise


def test_a_tuned_setting_with_a_configured_label_is_that_condition_not_a_second_one():
    config = AuditConfig(defenses=[{"name": "dynanoise"}, {"name": "static_noise"}])
    same = config.defenses[0].defense(config.seed)
    labels = [d.label for d in conditions(config, DefenderData(), tuned=same)]
    assert labels == ["undefended", same.label, "static_noise(sigma_sq=1)"]
    other = DynaNoise(sigma0_sq=0.2, noise_mode="per_input", key=b"k" * 16)
    labels = [d.label for d in conditions(config, DefenderData(), tuned=other)]
    assert labels[-1] == other.label and len(set(labels)) == 4
