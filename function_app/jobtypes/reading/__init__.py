"""Reading an upload, shared by the job types that parse one: the bytes and their digest
(`upload_reader`), what the file is (`file_types`), its text (`extraction`, `docx_reader`),
and the child process the parsing runs in (`sandbox`, `sandbox_child`)."""
