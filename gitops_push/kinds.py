"""What gitops-push knows of kinds without asking a cluster: scope and apply order, as data.

The apply order follows Flux and kapp: Namespaces, then CRDs (waited on until Established), then other
cluster-wide objects, then namespaced configuration, then workloads, then everything else, with
admission webhooks last so that they cannot reject the objects of the same deploy. Pruning runs the
same waves in reverse.
"""

from __future__ import annotations

import enum


class Wave(enum.IntEnum):
    NAMESPACES = 1
    CRDS = 2
    CLUSTER = 3
    CONFIG = 4
    WORKLOADS = 5
    OTHER = 6
    WEBHOOKS = 7


# (group, kind) -> wave; anything not listed is CLUSTER when cluster-scoped and OTHER otherwise.
WAVES: dict[tuple[str, str], Wave] = {
    ("", "Namespace"): Wave.NAMESPACES,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Wave.CRDS,
    ("", "ServiceAccount"): Wave.CONFIG,
    ("", "ConfigMap"): Wave.CONFIG,
    ("", "Secret"): Wave.CONFIG,
    ("", "Service"): Wave.CONFIG,
    ("", "ResourceQuota"): Wave.CONFIG,
    ("", "LimitRange"): Wave.CONFIG,
    ("", "PersistentVolumeClaim"): Wave.CONFIG,
    ("rbac.authorization.k8s.io", "Role"): Wave.CONFIG,
    ("rbac.authorization.k8s.io", "RoleBinding"): Wave.CONFIG,
    ("apps", "Deployment"): Wave.WORKLOADS,
    ("apps", "StatefulSet"): Wave.WORKLOADS,
    ("apps", "DaemonSet"): Wave.WORKLOADS,
    ("apps", "ReplicaSet"): Wave.WORKLOADS,
    ("", "ReplicationController"): Wave.WORKLOADS,
    ("", "Pod"): Wave.WORKLOADS,
    ("batch", "Job"): Wave.WORKLOADS,
    ("batch", "CronJob"): Wave.WORKLOADS,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): Wave.WEBHOOKS,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): Wave.WEBHOOKS,
}

# Built-in cluster-scoped kinds. Custom kinds get their scope from a CRD in the change or discovery.
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
    }
)

# Namespaced built-in kinds (the rest of the core groups), so no discovery is needed for them.
BUILTIN_GROUPS: frozenset[str] = frozenset(
    {
        "",
        "apps",
        "extensions",  # removed from the API long ago: its kinds must be reported unknown, not skipped
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "resource.k8s.io",
        "storagemigration.k8s.io",
    }
)


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    group, _, version = api_version.rpartition("/")
    return group, version


def builtin_scope(group: str, kind: str) -> bool | None:
    """True if namespaced, False if cluster-scoped, None when only a CRD or the cluster can say."""
    if (group, kind) in CLUSTER_SCOPED:
        return False
    if group in BUILTIN_GROUPS:
        return True
    return None


def wave_of(group: str, kind: str, namespaced: bool) -> Wave:
    return WAVES.get((group, kind), Wave.OTHER if namespaced else Wave.CLUSTER)
