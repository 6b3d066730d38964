"""Files on Amazon S3: presigned POST uploads and GET downloads, one bucket for every
workspace (each under its own prefix)."""
