#!/usr/bin/env python3
# Drives a running connvault with Mixpeek's own Python SDK (mixpeek/python-sdk
# 0.81.1), unchanged, for every provider it models: create (configs built
# through the SDK's models: from_dict validates them, to_dict is what the SDK
# sends), get by id and by name, list with and without include_total, update,
# suspend, resume, test (only where the config points at .invalid hosts or
# has no URL, so nothing leaves the machine) and delete; then a 404 and a 422
# as the SDK raises them. The SDK is not part of this repository:
#
#   MIXPEEK_SDK=/path/to/python-sdk python3 scripts/mixpeek_sdk_check.py sk_...
#
# (needs pydantic 2, urllib3 and python-dateutil; serve with make run and
# CONNVAULT_HEALTH_INTERVAL=0 so no background check dials the providers).
import os, sys, json
sys.path.insert(0, os.environ.get("MIXPEEK_SDK", "python-sdk"))
import mixpeek
from mixpeek.api.organization_connections_api import OrganizationConnectionsApi
from mixpeek.models.storage_connection_create_request import StorageConnectionCreateRequest
from mixpeek.models.storage_connection_update_request import StorageConnectionUpdateRequest
from mixpeek.models.list_storage_connections_request import ListStorageConnectionsRequest
from mixpeek.models import s3_config, tigris_config, postgre_sql_config, google_drive_config, snowflake_config, share_point_config, instagram_config, tik_tok_config, rss_config, httpapi_config, box_config

key = sys.argv[1]
cfg = mixpeek.Configuration(host=os.environ.get("CONNVAULT_URL", "http://127.0.0.1:8000"))
api = OrganizationConnectionsApi(mixpeek.ApiClient(cfg))
auth = "Bearer " + key
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
cases = {
  "s3": (s3_config.S3Config, {"region": "us-east-1", "endpoint_url": "https://s3.sdk.invalid",
        "credentials": {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}, True),
  "tigris": (tigris_config.TigrisConfig, {"endpoint_url": "https://tigris.sdk.invalid", "credentials": {"access_key_id": "tid_x", "secret_access_key": "tsec_sdk_secret"}}, True),
  "postgresql": (postgre_sql_config.PostgreSQLConfig, {"host": "db.sdk.invalid", "database": "app", "credentials": {"username": "reader", "password": "sdk-pg-password"}}, True),
  "google_drive": (google_drive_config.GoogleDriveConfig, {"credentials": {"project_id": "p", "private_key_id": "k", "private_key": PEM,
        "client_email": "sa@p.iam.gserviceaccount.com", "client_id": "123456789012345678901"}}, False),
  "snowflake": (snowflake_config.SnowflakeConfig, {"account": "xy12345.us-east-1", "warehouse": "WH", "credentials": {"username": "LOADER", "private_key": PEM}}, False),
  "sharepoint": (share_point_config.SharePointConfig, {"site_id": "contoso.sharepoint.com,a,b", "credentials": {"tenant_id": "t", "client_id": "c", "client_secret": "sdk-sp-secret"}}, False),
  "instagram": (instagram_config.InstagramConfig, {"credentials": {"client_id": "1", "client_secret": "sdk-ig-secret", "access_token": "sdk-ig-token", "instagram_user_id": "17841400000000001"}}, False),
  "tiktok": (tik_tok_config.TikTokConfig, {"credentials": {"client_key": "k", "client_secret": "sdk-tt-secret", "access_token": "sdk-tt-token", "refresh_token": "sdk-tt-refresh", "open_id": "o1"}}, False),
  "rss": (rss_config.RSSConfig, {"credentials": {"headers": {"X-Key": "sdk-rss-key"}}}, True),
  "http_api": (httpapi_config.HTTPAPIConfig, {"item_id_field": "id", "credentials": {"headers": {"Authorization": "Bearer sdk-api-token"}}}, True),
  "box": (box_config.BoxConfig, {"credentials": {"client_id": "c", "client_secret": "sdk-box-secret", "access_token": "sdk-box-access", "refresh_token": "sdk-box-refresh"}}, False),
}
failures = 0
for provider, (cls, raw, testable) in cases.items():
    steps = []
    try:
        if provider == "box":  # the SDK's own from_dict cannot tell Box's kinds apart: build them as a user would
            from mixpeek.models.credentials import Credentials
            from mixpeek.models.box_o_auth_credentials import BoxOAuthCredentials
            model = cls(credentials=Credentials(BoxOAuthCredentials(**raw["credentials"])))
        else:
            model = cls.from_dict(raw)
        sent = model.to_dict()
        created = api.create_storage_connection_organizations(StorageConnectionCreateRequest(
            name="sdk " + provider, provider_type=provider, provider_config=sent, test_before_save=False), authorization=auth)
        cid = created.connection_id; steps.append("create")
        assert api.get_storage_connection_organizations(cid, authorization=auth).name == "sdk " + provider; steps.append("get")
        assert api.get_storage_connection_organizations("sdk " + provider, authorization=auth).connection_id == cid; steps.append("get by name")
        page = api.list_storage_connections_organizations(limit=1, authorization=auth,
            list_storage_connections_request=ListStorageConnectionsRequest(provider_type=provider)); assert page.total >= 1 and len(page.results) == 1; steps.append("list")
        page = api.list_storage_connections_organizations(limit=1, include_total=True, authorization=auth,
            list_storage_connections_request=ListStorageConnectionsRequest(provider_type=provider)); assert page.total >= 1; steps.append("list+total")
        upd = api.update_storage_connection_organizations(cid, StorageConnectionUpdateRequest(description="from the SDK"), authorization=auth)
        assert upd.description == "from the SDK"; steps.append("update")
        assert api.update_storage_connection_organizations(cid, StorageConnectionUpdateRequest(is_active=False), authorization=auth).status == "SUSPENDED"; steps.append("suspend")
        assert api.update_storage_connection_organizations(cid, StorageConnectionUpdateRequest(is_active=True), authorization=auth).is_active; steps.append("resume")
        if testable:  # configs point at .invalid hosts or have no URL: no traffic leaves the machine
            res = api.test_storage_connection_organizations(cid, authorization=auth); steps.append("test(success=%s)" % res.success)
        out = api.delete_storage_connection_organizations(cid, authorization=auth); steps.append("delete")
        print("%-12s OK   %s" % (provider, ", ".join(steps)))
    except Exception as e:
        failures += 1
        print("%-12s FAIL after %s: %s" % (provider, steps, str(e)[:600]))
# A 404 and a 422 as the SDK raises them.
try:
    api.get_storage_connection_organizations("conn_aaaaaaaaaaaaaaa", authorization=auth)
except mixpeek.ApiException as e:
    print("404 ->", type(e).__name__, e.status)
try:
    api.create_storage_connection_organizations(StorageConnectionCreateRequest(name="bad", provider_type="s3", provider_config={"region": "us-east-1"}), authorization=auth)
except mixpeek.ApiException as e:
    print("422 ->", type(e).__name__, e.status, json.loads(e.body)["detail"][0])
sys.exit(1 if failures else 0)
