// Mounts seed 001's React component (./Component.jsx, copied in by build.mjs) with the job
// id from the page's query string: /...?jobId=...
import { createRoot } from 'react-dom/client';
import ResumeAnalysis from './Component.jsx';

const jobId = new URLSearchParams(location.search).get('jobId');
createRoot(document.getElementById('root')).render(<ResumeAnalysis jobId={jobId} />);
