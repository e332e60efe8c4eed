"""What the job types compute from a file's text: a resume's sections and score
(`resume_reading`, `resume_scoring`, for analyze-resume) and text statistics (`text_stats`,
for analyze-document). Pure functions, no I/O."""
