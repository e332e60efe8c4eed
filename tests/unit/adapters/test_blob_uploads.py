"""Upload URLs are built without a BlobClient; they must spell the blob exactly as it would."""

import pytest
from azure.identity.aio import DefaultAzureCredential
from azure.storage.blob.aio import BlobServiceClient

from devstack.azurite import DEV_ACCOUNT, DEV_KEY
from function_app.adapters.blob_uploads import BlobUploads

AZURITE = (
    f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
    f"BlobEndpoint=http://127.0.0.1:10000/{DEV_ACCOUNT};"
)
NAMES = [
    "alice/0f3c/cv.pdf",
    "u/1/my resume (final).docx",
    "u/2/Lebenslauf-Müller_年.pdf",
    "u/3/a%20b+c&d=e;f,g'h!~.txt",
    "u/4/#?@$[]{}.md",
]


@pytest.mark.parametrize("name", NAMES)
async def test_the_url_matches_the_sdks_for_azurite_and_azure(name: str) -> None:
    azure = BlobServiceClient(
        "https://acct.blob.core.windows.net", credential=DefaultAzureCredential()
    )
    local = BlobServiceClient.from_connection_string(AZURITE)
    for service in (local, azure):
        uploads = BlobUploads(service, "uploads", account_key=DEV_KEY)
        expected = service.get_container_client("uploads").get_blob_client(name).url
        assert uploads.blob_url(name) == expected
        await service.close()
