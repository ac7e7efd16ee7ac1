import './base.css';
import './genai.css';
