"""The S3 blob store (boto3): any S3-protocol endpoint, AWS S3, MinIO or DigitalOcean Spaces, by URL."""
