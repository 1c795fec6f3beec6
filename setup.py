"""Packaging for registry_model.

The migration scripts live in the top-level ``migrations/`` folder of the
checkout and are installed as the ``registry_model.migrations`` package, so a
non-editable install can migrate a database from any working directory.
"""
from setuptools import find_packages, setup

TESTING = ["pytest>=8", "factory-boy>=3.3"]
SERVER = ["Flask>=3", "gunicorn>=22", "bcrypt>=4"]
# The S3 blob store; 1.36 sends If-Match/If-None-Match on PutObject.
S3 = ["boto3>=1.36"]

setup(
    name="registry_model",
    version="0.1.0",
    description="A relational data model for container-image registries, on peewee.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["registry_model", "registry_model.*"])
    + ["registry_model.migrations"],
    package_dir={"registry_model.migrations": "migrations"},
    install_requires=[
        "peewee>=4.5,<5",
        "six",
        "psycopg2-binary",
        "PyMySQL",
        "click>=8",
        "rehashes>=0.3,<0.4",
        "jwcrypto>=1.5",
        "tqdm>=4.60",
    ],
    # What a web app installs (`pip install registry_model`) pulls no test tool: the pytest
    # plugin's fixtures and the factories need the `testing` extra, and the project's own
    # suite `test` (which includes `testing`).
    extras_require={
        "testing": TESTING,
        "server": SERVER,
        "s3": S3,
        "test": TESTING + SERVER + S3 + ["ruff", "hypothesis==6.170.17", "oras"],
    },
    entry_points={
        "console_scripts": ["registry-model=registry_model.cli:main"],
        "pytest11": ["registry_model=registry_model.testing.plugin"],
    },
)
