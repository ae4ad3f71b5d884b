# nginx: the config template and its parts, rendered by scripts/render-nginx.
nobase_dist_pkgdata_DATA += nginx/nginx.conf.in nginx/site.conf.in nginx/routes nginx/fastcgi_params nginx/sse.conf
