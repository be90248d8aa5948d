// The README's S3 create as a TypeScript user writes it against types
// generated from the served spec with openapi-typescript's default settings
// (credentials type left out, as the seed's example does). tsc compiles it
// in make test: a request schema that forces a default to be sent fails here.
import { connvault } from "./index.js";
const api = connvault("http://localhost:8000", "key");
export async function createReadmeS3() {
  return api.POST("/v1/organizations/connections", {
    body: {
      name: "Production S3 Bucket",
      provider_type: "s3",
      provider_config: {
        bucket: "my-bucket",
        region: "us-east-1",
        credentials: { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      },
    },
  });
}
