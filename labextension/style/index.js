import './base.css';
import './runpage.css';
import './genai.css';
import './traces.css';
import './diff.css';
import './workspace.css';
