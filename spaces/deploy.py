"""Push the FalseReject Space to the Hugging Face Hub, pinning the package version.

    HF_TOKEN=... python spaces/deploy.py --repo-id ORG/falsereject-demo
    python spaces/deploy.py --repo-id ORG/falsereject-demo --dry-run   # list files, upload nothing

The logic lives in ``falsereject.space.deploy``.
"""

from falsereject.space.deploy import main

if __name__ == "__main__":
    main()
