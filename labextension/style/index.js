import './base.css';
import './genai.css';
import './traces.css';
import './diff.css';
