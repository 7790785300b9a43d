// One import defines <nimg-img>; configure() gives its decoder worker the asset URLs.
import { configure } from 'nimg/element';
import { nimgAssets } from './assets.js';

configure(nimgAssets());
