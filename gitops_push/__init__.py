"""gitops-push: deploy Kubernetes manifests from Git, push-style, from CI pipelines."""

__version__ = "0.1.0"
